"""Drives the real `veeam-em` client (PyPI) against entman, in JSON, over HTTPS
with certificate verification on (REQUESTS_CA_BUNDLE points at entman's
generated certificate). Run by crates/cli/tests/conformance.rs."""

import base64
import os
import sys

from veeam_em.exceptions import VeeamEmError
from veeam_em.manager import VeeamEm

checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


em = VeeamEm(api_endpoint=os.environ["ENTMAN_URL"], ssl_verify=True)
token = em.get_token(os.environ["ENTMAN_USER"], os.environ["ENTMAN_PASSWORD"])
check(isinstance(token, str) and len(token) == 48, "get_token returns the X-RestSvcSessionId token")
check(em.session_data.get("SessionId"), "the logon body carries SessionId")
check(base64.b64decode(token).decode() == em.session_data["SessionId"], "the token is the Base64 of the SessionId")

me = em.whoami()
check(me["SessionId"] == em.session_data["SessionId"], "whoami answers the caller's logon session")
check(me["UserName"] == os.environ["ENTMAN_USER"], "whoami names the account")
check(isinstance(me["Links"], list) and me["Links"][0]["Rel"] == "Up", "the logon session has its links")

sessions = em.get_logon_sessions()
check(isinstance(sessions, list) and len(sessions) == 1, "get_logon_sessions lists the caller's session")
check(sessions[0]["SessionId"] == em.session_data["SessionId"], "the listed session is the caller's")

refs = em.request("/cloud/failoverSessions")
check(isinstance(refs["Refs"], list) and len(refs["Refs"]) > 0, "failover sessions are listed as Refs")
check(all(r["UID"].split(":")[2] == "CloudFailoverSession" for r in refs["Refs"]), "UIDs are urn:veeam:CloudFailoverSession:<guid>")

entities = em.request("/cloud/failoverSessions", params={"format": "Entity"})
items = entities["CloudFailoverSessions"]
check(len(items) == len(refs["Refs"]), "the entity list holds the same sessions")
for item in items:
    check(item["Result"] in ("Success", "Warning", "Failed", "None"), "sessions carry a Result")
    check(item["Links"][0]["Rel"] == "Up" and item["Links"][0]["Name"], "the first link is Up to the backup server")
    check(isinstance(item["CloudFailoverTasks"]["CloudFailoverTasks"], list), "VM tasks are double-wrapped")

one = em.request(items[0]["Href"])
check(one["UID"] == items[0]["UID"], "an entity Href resolves to the same session")

try:
    em.request("/cloud/failoverSessions/00000000-0000-0000-0000-000000000000")
    check(False, "an unknown session raises")
except VeeamEmError as e:
    check("was not found" in str(e) and "'StatusCode': 404" in str(e), "errors reach the client as EM Error JSON")

# Backup task sessions through the query service, page by page along the Next
# links (jobs-domain.md §9.7 EM-1), with a small page so that there are several.
first = em.request("/query", params=dict(type="BackupTaskSession", format="Entities", pageSize=50, page=1))
pages = first["PagingInfo"]["PagesCount"]
check(pages > 2, "the demo world's history spans several pages of 50 task sessions")
tasks = em.get_backup_task_sessions(page_size=50)
check(len(tasks) > 100 and len(tasks) <= pages * 50, "get_backup_task_sessions follows the Next links to the end")
check(len({t["UID"] for t in tasks}) == len(tasks), "no task session comes twice")
def instant(text):
    """An EM time (`…:ss[.f…]Z`, trailing zeros of the fraction left out) as a sortable pair."""
    seconds, _, fraction = text.rstrip("Z").partition(".")
    return (seconds, int((fraction + "000000")[:6]))


times = [instant(t["CreationTimeUTC"]) for t in tasks]
check(times == sorted(times, reverse=True), "sortDesc=CreationTime orders the pages newest first")
for t in tasks[:20]:
    check(t["UID"].startswith("urn:veeam:BackupTaskSession:"), "task sessions carry their UID")
    check(t["State"] in ("Pending", "InProgress", "Completed"), "task sessions carry a State")
    check(t["Result"] in ("Success", "Warning", "Failed"), "task sessions carry a Result")
    check(isinstance(t["TotalSize"], int) and isinstance(t["Reason"], str), "TotalSize and Reason are typed")
    check(t["VmUid"].startswith("urn:"), "backup task sessions carry the VM's reference")
    check(t["Links"][1]["Type"] == "BackupJobSessionReference", "the second link is Up to the job session")
failed = em.get_backup_task_sessions(page_size=50, filter="Result==Failed")
check(all(t["Result"] == "Failed" for t in failed), "a caller's filter goes along with the paging")
runs = em.request("/backupSessions", params={"format": "Entity"})["BackupJobSessions"]
check(isinstance(runs, list) and all(r["State"] == "Stopped" for r in runs), "the 30-day list of job sessions")

em.request(f"/logonSessions/{em.session_data['SessionId']}", method=VeeamEm.DELETE)
try:
    em.request("/cloud/failoverSessions")
    check(False, "a deleted session's token is refused")
except Exception as e:  # 401 -> requests.HTTPError through raise_for_status
    check("401" in str(e), "the token stops working after logoff")

print(f"veeam-em conformance: {checks} checks passed")

"""gunicorn's worker processes as /proc shows them (Linux): which they are, and their memory."""
import os


def worker_pids(master_pid):
    """The PIDs of the processes whose parent is `master_pid`, sorted."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == master_pid:
            pids.append(int(entry))
    return sorted(pids)


def rss_kib(pid):
    """Resident memory of `pid` in KiB (VmRSS), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None

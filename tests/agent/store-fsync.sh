#!/usr/bin/env bash
# tests/agent/store-fsync.sh BUILD: the object store's write order, seen
# by strace. store_tool (tests/agent/store_tool.c) runs a script of
# creates, updates, status writes, deletes (finalizers, a cascade), new
# namespaces and Events under `strace -f -y`, then closes the store (a
# checkpoint folds the journal into the object files); a checker walks
# the system calls and requires:
#   - before every "ack" line the tool writes, every journal record (one
#     writev each) was fdatasync()ed (Events' records excepted: store.c
#     never syncs for them, by design);
#   - each object file reached its name by rename(2) from a temp file that
#     was fsync()ed after its last write (never written in place);
#   - before the journal is emptied (ftruncate) or journal.old removed,
#     the directory of every rename, unlink and mkdir was fsync()ed after
#     it (Events excepted);
# and the store reopens with every acknowledged state. The checker is also
# run on three doctored traces (a journal fdatasync dropped; a directory
# fsync dropped; a file fsync moved after its rename) and must refuse
# them all, so it cannot pass by accident.
# TAP lines on stdout.
set -uo pipefail
B=${1:-build/asan}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) ;; *) B=$root/$B ;; esac
TOOL=$B/tests/store_tool
W=$(mktemp -d /tmp/drover-store-fsync-XXXXXX)
fails=0
trap 'rm -rf "$W"' EXIT

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); }

for t in strace python3; do
	command -v $t >/dev/null || { echo "not ok - $t is missing (make deps)"; exit 1; }
done
[ -x "$TOOL" ] || { echo "not ok - $TOOL not built"; exit 1; }
export ASAN_OPTIONS=detect_leaks=0	# LeakSanitizer cannot run under ptrace

# The script: every kind of write the store makes.
{
	echo 'create {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"lab"}}'
	echo 'create {"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-1"}}'
	echo 'create {"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceReplicaSet","metadata":{"name":"rs","namespace":"lab"},"spec":{"replicas":2}}'
	echo 'create {"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"vmi-1","namespace":"lab","finalizers":["drover.dev/vmm"]},"spec":{"a":1}}'
	for i in 1 2 3 4 5; do
		echo "create {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p$i\"},\"spec\":{\"n\":$i}}"
		echo "update {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p$i\"},\"spec\":{\"n\":$((i * 10))}}"
		echo "status Pod - p$i {\"phase\":\"Running\"}"
		echo "event Pod - p$i Normal Started Started container compute"
	done
	echo 'delete Pod - p2'
	echo 'delete VirtualMachineInstance lab vmi-1'
	echo 'update {"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"vmi-1","namespace":"lab","finalizers":[]},"spec":{"a":1}}'
	echo 'create {"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"h","namespace":"other"},"spec":{"maxReplicas":3}}'
	echo 'delete HorizontalPodAutoscaler other h'
	echo 'event Node - edge-1 Normal NodeReady Node edge-1 status is now: NodeReady'
} > "$W/script"
# A cascade: an owner and two dependents, one of them owning a third.
echo 'create {"kind":"VirtualMachineInstanceReplicaSet","metadata":{"name":"own"}}' |
	"$TOOL" "$W/store" > "$W/out0" 2>&1
uid=$(echo 'get VirtualMachineInstanceReplicaSet - own' | "$TOOL" "$W/store" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')
echo "create {\"kind\":\"VirtualMachineInstance\",\"metadata\":{\"name\":\"dep\",\"ownerReferences\":[{\"kind\":\"VirtualMachineInstanceReplicaSet\",\"name\":\"own\",\"uid\":\"$uid\"}]}}" |
	"$TOOL" "$W/store" >> "$W/out0" 2>&1
echo 'delete VirtualMachineInstanceReplicaSet - own' >> "$W/script"

strace -f -y -o "$W/trace" \
	-e trace=openat,open,creat,write,pwrite64,writev,fsync,fdatasync,sync_file_range,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,ftruncate,close \
	"$TOOL" "$W/store" < "$W/script" > "$W/out" 2> "$W/err"
rc=$?
acks=$(grep -c '^ack ' "$W/out")
want=$(grep -vc '^#' "$W/script")
if [ $rc -eq 0 ] && [ "$acks" -eq "$want" ] && ! grep -q '^err' "$W/out"; then
	ok "store_tool acknowledged $acks of $want writes under strace"
else
	notok "store_tool: rc $rc, $acks of $want acks: $(grep '^err' "$W/out" | head -3; head -5 "$W/err")"
fi

cat > "$W/check.py" <<'EOF'
# check.py TRACE STOREDIR: the store's write order (see store-fsync.sh).
import re, sys

trace, store = sys.argv[1], sys.argv[2].rstrip("/")
journal = store + "/journal"
call = re.compile(r'^\d+ +(\w+)\((.*)\) += (-?\d+)(?:<([^>]*)>)?')
fdarg = re.compile(r'^-?\d+<([^>]*)>')

def parent(p):
    return p.rsplit("/", 1)[0]

def args(s):
    out, depth, cur, q = [], 0, "", False
    for i, c in enumerate(s):
        if c == '"' and (i == 0 or s[i - 1] != "\\"):
            q = not q
        if c == "," and not q and depth == 0:
            out.append(cur.strip()); cur = ""; continue
        if not q and c in "{[": depth += 1
        if not q and c in "}]": depth -= 1
        cur += c
    out.append(cur.strip())
    return out

def path_at(dirarg, name):
    name = name.strip('"')
    if name.startswith("/"):
        return name
    m = fdarg.match(dirarg)
    return (m.group(1) if m else "") + "/" + name

def in_store(p):
    return p == store or p.startswith(store + "/")

def event(p):
    return "/Event/" in p

def journals(p):
    return p in (journal, journal + ".old")

errors, needs, last_write, last_fsync, seq, acks = [], [], {}, {}, 0, 0
unsynced = None		# a durable journal record not yet fdatasync'd
for line in open(trace):
    m = call.match(line)
    if not m:
        continue
    name, a, ret = m.group(1), args(m.group(2)), int(m.group(3))
    seq += 1
    if ret < 0:
        continue
    fdp = fdarg.match(a[0]).group(1) if fdarg.match(a[0]) else None
    if name in ("write", "pwrite64", "writev") and fdp:
        if "ack " in a[1] and not in_store(fdp):
            acks += 1
            if unsynced:
                errors.append("ack #%d (%s) before the journal record %s "
                              "was fdatasync()ed" % (acks, a[1][:40], unsynced))
        elif fdp == journal:
            # One record per writev; durable unless it is an Event's.
            if name != "writev":
                errors.append("journal written without writev: %s" % a[1][:40])
            elif '"Event/' not in a[1] and unsynced is None:
                unsynced = a[1][:80]
        elif in_store(fdp):
            base = fdp.rsplit("/", 1)[1]
            if not base.startswith("."):
                errors.append("written in place: %s" % fdp)
            last_write[fdp] = seq
    elif name in ("fsync", "fdatasync") and fdp and in_store(fdp):
        if fdp == journal:
            unsynced = None
        last_fsync[fdp] = seq
        needs = [(w, d) for w, d in needs if d != fdp]
    elif name == "ftruncate" and fdp == journal:
        # Emptied after a checkpoint: every file written must be durable.
        for what, d in needs:
            errors.append("journal emptied before %s's directory %s was "
                          "fsync()ed" % (what, d))
        needs = []
    elif name in ("rename", "renameat", "renameat2"):
        if name == "rename":
            src, dst = a[0].strip('"'), a[1].strip('"')
        else:
            src, dst = path_at(a[0], a[1]), path_at(a[2], a[3])
        if not in_store(dst) or event(dst):
            continue
        if not journals(dst) and last_fsync.get(src, -1) < last_write.get(src, 0):
            errors.append("%s renamed to %s before an fsync after its last "
                          "write" % (src, dst))
        last_write.pop(src, None); last_fsync.pop(src, None)
        needs.append(("rename to " + dst, parent(dst)))
    elif name in ("unlink", "unlinkat", "mkdir", "mkdirat"):
        p = a[0].strip('"') if name in ("unlink", "mkdir") else path_at(a[0], a[1])
        if not in_store(p) or event(p) or p.rsplit("/", 1)[1].startswith("."):
            continue
        if p == journal + ".old":
            for what, d in needs:
                errors.append("journal.old removed before %s's directory %s "
                              "was fsync()ed" % (what, d))
            needs = []
        needs.append((name + " " + p, parent(p)))
for e in errors:
    print("#", e)
print("# %d acks checked" % acks)
sys.exit(1 if errors or acks == 0 else 0)
EOF

if python3 "$W/check.py" "$W/trace" "$W/store" > "$W/check.out"; then
	ok "journal fdatasync before every ack, fsync before rename, directory fsync before the journal is emptied ($(tail -1 "$W/check.out" | tr -d '#'))"
else
	notok "write order: $(head -5 "$W/check.out" | tr '\n' ' ')"
fi

# The checker refuses a trace without one journal fdatasync...
awk '/fdatasync\(.*\/journal>\)/ && !done { done = 1; next } { print }' "$W/trace" > "$W/bad0"
if ! cmp -s "$W/trace" "$W/bad0" && ! python3 "$W/check.py" "$W/bad0" "$W/store" > "$W/check0.out"; then
	ok "checker refuses an ack before its journal record's fdatasync"
else
	notok "checker passed a trace without a journal fdatasync"
fi
# ... one without a checkpoint's last directory fsync of Pod/default...
tac "$W/trace" | awk '/fsync\(.*Pod\/default>\)/ && !done { done = 1; next } { print }' |
	tac > "$W/bad1"
if ! cmp -s "$W/trace" "$W/bad1" && ! python3 "$W/check.py" "$W/bad1" "$W/store" > "$W/check1.out"; then
	ok "checker refuses a missing directory fsync"
else
	notok "checker passed a trace without a directory fsync"
fi
# ... and one where a file fsync comes after its rename.
python3 - "$W/trace" > "$W/bad2" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
for i, l in enumerate(lines):
    if "fsync(" in l and "/Pod/default/.tmp>" in l:
        for j in range(i + 1, len(lines)):
            if "renameat(" in lines[j]:
                lines.insert(j, lines.pop(i))
                break
        break
print("\n".join(lines))
EOF
if ! cmp -s "$W/trace" "$W/bad2" && ! python3 "$W/check.py" "$W/bad2" "$W/store" > "$W/check2.out"; then
	ok "checker refuses a file fsync after its rename"
else
	notok "checker passed a file fsync after its rename"
fi

# Reopened: the acknowledged states.
{
	echo 'get Pod - p3'
	echo 'get Pod - p2'
	echo 'get VirtualMachineInstance lab vmi-1'
	echo 'get VirtualMachineInstance - dep'
	echo 'list Event'
	echo 'rv'
} | "$TOOL" "$W/store" > "$W/after" 2>&1
if python3 - "$W/after" <<'EOF'
import json, sys
l = open(sys.argv[1]).read().splitlines()
p3 = json.loads(l[0])
assert p3["spec"]["n"] == 30 and p3["status"]["phase"] == "Running", p3
assert p3["metadata"]["generation"] == 2, p3
assert l[1] == "null" and l[2] == "null" and l[3] == "null", l[1:4]
ev = json.loads(l[4])
assert len(ev) == 6, len(ev)  # p1..p5 (Events outlive p2) and edge-1
assert int(l[5]) >= max(int(e["metadata"]["resourceVersion"]) for e in ev)
EOF
then
	ok "reopened store holds every acknowledged state"
else
	notok "reopened store: $(head -c 300 "$W/after")"
fi
exit $((fails > 0))

# Shared by the replicas' stand-in programs (sourced): report what the real program would read and
# write at start, then serve the report over HTTP as the web UI would serve its page.
REPLICA=/tmp/replica
mkdir -p "$REPLICA" || exit 1

report() { printf '%s\n' "$*" >>"$REPLICA/report.txt"; }

# reads FOLDER: every file the program lists in FOLDER (recursively, names relative to it).
reads() {
    if [ ! -d "$1" ]; then
        report "absent $1"
        return
    fi
    report "folder $1"
    find "$1" -type f -o -type l | while IFS= read -r file; do
        report "read $1 ${file#"$1"/}"
    done
}

# serve LISTEN PORT [PATH...]: answer on LISTEN:PORT; each PATH (e.g. /system_stats) answers too.
serve() {
    listen=${1%%,*}
    port=$2
    shift 2
    report "uid $(id -u) gid $(id -g) cwd $(pwd)"
    report "listen $listen:$port"
    echo "<html><body>replica</body></html>" >"$REPLICA/index.html"
    for path in "$@"; do
        mkdir -p "$REPLICA$(dirname "$path")" && echo ok >"$REPLICA$path"
    done
    echo "replica: serving on $listen:$port"
    exec httpd -f -p "$listen:$port" -h "$REPLICA"
}

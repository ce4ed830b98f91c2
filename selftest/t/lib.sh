# Helpers shared by the script tests (sourced; the tests run from the
# repository root).  Not a test itself: ctest runs only t*.sh.

fail() { echo "FAIL: $*"; exit 1; }

# The live processes that carry the run id $1 in their environment.
# (stderr goes before the `<`: a process may end while we read it.)
live() {
  for e in /proc/[0-9]*/environ; do
    tr '\0' '\n' 2>/dev/null <"$e" | grep -qx "ITEST_RUN_ID=$1" && echo "$e"
  done
  return 0
}

# The pid of the reaper of run $1 (from /proc: procps may be missing).
reaper_of() {
  for c in /proc/[0-9]*/cmdline; do
    case "$(tr '\0' ' ' 2>/dev/null <"$c")" in
    "itest __reaper $1."*" 3 ") p=${c#/proc/}; echo "${p%/cmdline}" ;;
    esac
  done
  return 0
}

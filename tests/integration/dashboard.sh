#!/bin/sh
# The dashboard of kiln serve, in headless Chromium and over HTTP, on real jobs: a worker runs
# the busybox image twice under one image name (kiln submit --name holding HTML); the second
# boots with a kernel command line that has no serial console and carries HTML, so
# verify_kernel_cmdline fails with that text in its reason. Then:
#  - Chromium signs in through a one-time link (a nonce from POST /api/v1/login-links, never
#    the token) and the job page's DOM shows the cases, the failing reason, the hostile name
#    and reason as text (no element made of them), the SVG plots and the trend over job 1;
#    a screenshot of the page is kept under the build directory;
#  - while job 1 runs its page holds the console so far and the script that follows it;
#  - the sign-in link works once; the session cookie is HttpOnly and SameSite=Strict; every
#    page has the Content-Security-Policy; the form sign-in takes the token, refuses a wrong
#    one and a form from another origin;
#  - tenant B's session gets 404 for tenant A's job page, console and artifacts, and an empty
#    jobs list; the admin's sees A's jobs; the cookie never stands in for a token on a POST;
#  - the rollout page (the server also answers Omaha for a gallery with os 1.0 and 1.1): after
#    curl's update checks and events from three machines, one failure with error code 4242
#    pausing the rollout, Chromium's DOM of /rollouts/os/stable shows the machines per version,
#    in flight, the error code, the pause's reason and the ramp's SVG (a screenshot kept);
#    the admin sees the rollouts, tenant A (the gallery is not A's) gets 404 and an empty list;
#  - no token, nonce or session id is in the server's log.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed"; exit 77; }
chrome=$(command -v chromium) || { echo "chromium is not installed (scripts/deps.sh installs it)"; exit 77; }

data="$T/data"
"$KILN" serve --init --data "$data" 2>/dev/null || fail "serve --init"
TA=$("$KILN" tenant add acme --data "$data" 2>/dev/null) || fail "tenant add acme"
TB=$("$KILN" tenant add beta --data "$data" 2>/dev/null) || fail "tenant add beta"
TR=$("$KILN" tenant add root --admin --data "$data" 2>/dev/null) || fail "tenant add root"
W1=$("$KILN" worker add w1 --data "$data" 2>/dev/null) || fail "worker add w1"
"$KILN" keygen --out "$T/wkey" --no-passphrase >/dev/null || fail "keygen"

# the update server's gallery: os 1.0 and 1.1 in stable (tests/lib/update_version.sh)
. "$KILN_ROOT/tests/lib/update_version.sh"
"$KILN" keygen --out k --no-passphrase > /dev/null || fail "keygen k"
"$KILN" gallery init --gallery G --trust k.pub -k k.key --require-priority -1 > /dev/null || fail "gallery init"
mkver os 1.0
mkver os 1.1

serve_start serve.log --data "$data" --gallery G
KILN_WORKER_TOKEN=$W1 "$KILN" worker --server "$S" --work "$T/w1" --key "$T/wkey.key" > w1.log 2>&1 &
w1_pid=$!
pids="$serve_pid $w1_pid"
trap 'for p in $pids; do kill $p 2>/dev/null; done; sleep 1; rm -rf "$T"' EXIT

# http JAR METHOD PATH [curl args]: the body in $T/body, the headers in $T/head; prints the status
http() {
    j=$1 m=$2 u=$3; shift 3
    curl -s -o "$T/body" -D "$T/head" -w '%{http_code}' -b "$j" -c "$j" -X "$m" "$@" "$S$u"
}
expect_http() { want=$1; shift; got=$(http "$@"); [ "$got" = "$want" ] || { cat "$T/head" "$T/body" >&2; fail "$2 $3: HTTP $got, expected $want"; }; }
# link TOKEN: a fresh one-time sign-in path
link() { curl -sf -X POST -H "Authorization: Bearer $1" "$S/api/v1/login-links" | jq -r .path; }
job_state() { curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$1" | jq -r .state; }

NAME='<img src=x onerror=alert(2)>busybox'
HOSTILE='<script>alert(1)</script>'
cat > cases.yml <<'YAML'
name: dashboard
testcase:
  - criteria: { name: "verify_kernel_cmdline|verify_memory" }
YAML
BB=$KILN_BUSYBOX
# job 1 passes; job 2 boots with no serial console and HTML on its command line
# one vCPU: TCG on a busy host stalls a two-vCPU guest's RCU (lib.sh's runbooks use one too)
KILN_TOKEN=$TA "$KILN" submit --server "$S" --name "$NAME" --cpus 1 --memory-mb 256 --kernel "$BB/vmlinuz" --append "console=ttyS0 quiet" \
    --runbook cases.yml "$BB/initrd.img" > id1 2> submit1.err || { cat submit1.err; fail "submit 1"; }
KILN_TOKEN=$TA "$KILN" submit --server "$S" --name "$NAME" --cpus 1 --memory-mb 256 --kernel "$BB/vmlinuz" \
    --append "console=tty0 quiet kiln.note=$HOSTILE" --runbook cases.yml "$BB/initrd.img" > id2 2> submit2.err ||
    { cat submit2.err; fail "submit 2"; }
id1=$(cat id1) id2=$(cat id2)

# a signed-in browser session for tenant A (curl's cookie jar), through a one-time link
la=$(link "$TA")
expect_http 303 "$T/a.jar" GET "$la?next=/jobs/$id1"
grep -i '^set-cookie: kiln_session=' "$T/head" > cookie.txt || fail "no session cookie"
expect_in cookie.txt "HttpOnly"
expect_in cookie.txt "SameSite=Strict"
grep -qi "^location: /jobs/$id1" "$T/head" || fail "the link did not lead to /jobs/$id1"
expect_http 401 "$T/used.jar" GET "$la"            # a link works once
expect_in "$T/body" "used up, expired or unknown"

# --- job 1 while it runs: its console so far, and the script that follows the stream ---
for i in $(seq 600); do [ "$(job_state "$id1")" = running ] && grep -q "kiln-busybox: ready" "$data/jobs/$id1/console.log" 2>/dev/null && break; sleep 0.5; done
expect_http 200 "$T/a.jar" GET "/jobs/$id1"
if grep -q '<dd>running</dd>' "$T/body"; then
    expect_in "$T/body" "kiln-busybox: ready"
    expect_in "$T/body" "data-src=\"/api/v1/jobs/$id1/console\""
    expect_in "$T/body" "<script>(function(){var p=document.getElementById('console')"
    expect_in "$T/body" "the live console stream"
else
    note "job $id1 ended before its running page was read; the live view was not checked"
fi
grep -i '^content-security-policy:' "$T/head" > csp.txt || fail "no Content-Security-Policy"
expect_in csp.txt "default-src 'none'; style-src 'sha256-"
expect_in csp.txt "img-src 'self' data:"

for id in $id1 $id2; do
    for i in $(seq 900); do [ "$(job_state "$id")" = done ] && break; sleep 0.5; done
    [ "$(job_state "$id")" = done ] || fail "job $id did not finish"
done
curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$id2" > job2.json
expect_jq job2.json .result failed
expect_jq job2.json '.cases[] | select(.name=="verify_kernel_cmdline") | .status' failed
expect_jq job2.json '.cases[] | select(.name=="verify_memory") | .status' passed
reason=$(jq -r '.cases[] | select(.name=="verify_kernel_cmdline") | .reason' job2.json)
case $reason in *"$HOSTILE"*) ;; *) fail "the failing reason lacks the command line: $reason" ;; esac

# --- Chromium: the job page's DOM, then a screenshot (each run signs in with a new link) ---
chrome_run() {  # chrome_run NAME ARGS...: a browser with a profile of its own
    profile=$T/chrome-$1
    shift
    timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
        --disable-dev-shm-usage --user-data-dir="$profile" "$@"
}
dom() {  # dom NAME PATH: the DOM of PATH after signing in, in NAME.html
    l=$(link "$TA")
    chrome_run "$1" --dump-dom "$S$l?next=$2" > "$1.html" 2> "$1.err" || { tail -n 20 "$1.err"; fail "chromium --dump-dom $2"; }
}
dom job2 "/jobs/$id2"
expect_in job2.html "<h1>Job $id2</h1>"
expect_in job2.html '<td class="failed">failed</td>'
expect_in job2.html "verify_kernel_cmdline"
expect_in job2.html "verify_memory"
expect_in job2.html "/proc/cmdline has no serial console (console=ttyS0 or hvc0); it is: console=tty0 quiet kiln.note=&lt;script&gt;alert(1)&lt;/script&gt;"
expect_in job2.html "&lt;img src=x onerror=alert(2)&gt;busybox"
# the hostile strings made no element: the page's only scripts are none (job done), no img
! grep -q '<script>alert' job2.html || fail "a case reason became a script element"
! grep -qi '<img' job2.html || fail "an image name became an img element"
! grep -q '<script' job2.html || fail "a finished job's page has a script"
expect_in job2.html "href=\"/api/v1/jobs/$id2/artifacts/cases/verify_kernel_cmdline/log.txt\""
# plots: case durations (one bar a case), the VM over time, the trend with job 1 as the earlier point
[ "$(grep -o '<svg' job2.html | wc -l)" -ge 3 ] || fail "expected the SVG plots on the job page"
expect_in job2.html 'aria-label="case durations (s)"'
expect_in job2.html 'aria-label="VM resident memory (MiB) over the run"'
expect_in job2.html "1 earlier job(s) of tenant acme"
expect_in job2.html "<title>job $id1: "
expect_in job2.html "verify_kernel_cmdline: VM peak RSS"
shots=${KILN_BUILD:-$T}/test-artifacts
mkdir -p "$shots"
l=$(link "$TA")
chrome_run shot --hide-scrollbars --window-size=1280,2200 --screenshot="$shots/dashboard-job.png" "$S$l?next=/jobs/$id2" \
    > shot.err 2>&1 || { tail -n 20 shot.err; fail "chromium --screenshot"; }
[ -s "$shots/dashboard-job.png" ] || fail "no screenshot"
[ "$(head -c 8 "$shots/dashboard-job.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "the screenshot is not a PNG"
note "screenshot of the job page: $shots/dashboard-job.png"

# --- the rollout page (issue 15): after a few Omaha checks and events, Chromium's DOM shows
# the machines per version, a failure's error code and why the rollout paused ---
"$KILN" rollout set os stable --version 1.1 --percent 100 --pause-after-failures 1 --gallery G --data "$data" > /dev/null 2> set.err ||
    { cat set.err; fail "rollout set"; }
[ ! -s set.err ] || fail "rollout set of a published version warned: $(cat set.err)"
omaha() { # MACHINE VERSION BODY: one Omaha request for os in stable; the response in omaha.xml
    printf '<?xml version="1.0"?><request protocol="3.0"><app appid="os" version="%s" track="stable" machineid="%s">%s</app></request>' \
        "$2" "$1" "$3" > omaha-req.xml
    code=$(curl -s -o omaha.xml -w '%{http_code}' -H 'Content-Type: text/xml' --data-binary @omaha-req.xml "$S/v1/update/")
    [ "$code" = 200 ] || { cat omaha.xml; fail "Omaha request of $1: HTTP $code"; }
}
omaha m-one 1.0 '<updatecheck/>'
grep -q 'updatecheck status="ok"' omaha.xml || fail "m-one was not offered 1.1: $(cat omaha.xml)"
omaha m-two 1.0 '<updatecheck/>'
omaha m-three 1.1 '<updatecheck/>'
grep -q 'updatecheck status="noupdate"' omaha.xml || fail "m-three on 1.1 was offered an update"
omaha m-two 1.0 '<event eventtype="13" eventresult="1"/>'
omaha m-one 1.0 '<event eventtype="3" eventresult="0" errorcode="4242"/>'
"$KILN" rollout status os stable --json --data "$data" > ro.json || fail "rollout status"
expect_jq ro.json .paused true
l=$(link "$TR")
chrome_run rollout --dump-dom "$S$l?next=/rollouts/os/stable" > rollout.html 2> rollout.err || { tail -n 20 rollout.err; fail "chromium --dump-dom the rollout"; }
expect_in rollout.html "<h1>Rollout os stable</h1>"
expect_in rollout.html '<tr><td>1.0</td><td class="num">2</td><td class="num">66.7 %</td></tr>'
expect_in rollout.html '<tr><td>1.1 (target)</td><td class="num">1</td><td class="num">33.3 %</td></tr>'
expect_in rollout.html '<td class="failed errorcode">4242</td>'
expect_in rollout.html "<td>m-one</td><td>1.0</td><td>1.1</td><td>update complete (3)</td>"
expect_in rollout.html '<dd class="failed">paused</dd>'
expect_in rollout.html '<dd class="reason" id="pause-reason">1 failure events on 1.1 (the limit is 1); the last from machine m-one, error code 4242</dd>'
expect_in rollout.html '<dt>In flight</dt><dd>1</dd>'
expect_in rollout.html 'aria-label="rollout ramp over time"'
expect_in rollout.html 'machines granted 1.1: 2</title>'
expect_in rollout.html 'class="failure-mark"'
expect_in rollout.html 'class="paused-span"'
! grep -q '<script' rollout.html || fail "the rollout page has a script"
l=$(link "$TR")
chrome_run rollshot --hide-scrollbars --window-size=1280,1400 --screenshot="$shots/dashboard-rollout.png" "$S$l?next=/rollouts/os/stable" \
    > rollshot.err 2>&1 || { tail -n 20 rollshot.err; fail "chromium --screenshot of the rollout"; }
[ "$(head -c 8 "$shots/dashboard-rollout.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "the rollout screenshot is not a PNG"
note "screenshot of the rollout page: $shots/dashboard-rollout.png"
# the rollouts list, and who sees it: the admin; not tenant A, whose gallery G is not
expect_http 303 "$T/r.jar" GET "$(link "$TR")"
expect_http 200 "$T/r.jar" GET "/rollouts"
expect_in "$T/body" '<a href="/rollouts/os/stable">os</a>'
expect_in "$T/body" "paused: 1 failure events on 1.1"
expect_http 404 "$T/r.jar" GET "/rollouts/os/beta"
expect_http 404 "$T/r.jar" GET "/rollouts/os/../stable"
expect_http 404 "$T/a.jar" GET "/rollouts/os/stable"
expect_http 200 "$T/a.jar" GET "/rollouts"
expect_in "$T/body" "which is not yours"
expect_not_in "$T/body" "/rollouts/os/stable"

# --- the jobs list and workers page (served HTML, read over HTTP) ---
expect_http 200 "$T/a.jar" GET "/"
expect_in "$T/body" "<a href=\"/jobs/$id2\">$id2</a>"
expect_in "$T/body" "&lt;img src=x onerror=alert(2)&gt;busybox"
expect_in "$T/body" '<td class="failed">failed</td>'
expect_in "$T/body" '<td class="passed">passed</td>'
expect_http 200 "$T/a.jar" GET "/?state=queued"
expect_in "$T/body" "No jobs yet"
expect_http 200 "$T/a.jar" GET "/workers"
expect_in "$T/body" "<td>w1</td>"
expect_in "$T/body" "s ago)"
expect_in "$T/body" " MiB, uefi"   # what w1 offers, features included
# the session reads the console and artifacts the page links to, but changes nothing
expect_http 200 "$T/a.jar" GET "/api/v1/jobs/$id2/artifacts/cases/verify_kernel_cmdline/log.txt"
expect_in "$T/body" "/proc/cmdline: console=tty0"
expect_http 200 "$T/a.jar" GET "/api/v1/jobs/$id1/console"
expect_in "$T/body" "kiln-busybox: ready"
expect_http 401 "$T/a.jar" POST "/api/v1/jobs/$id1/cancel"
expect_http 401 "$T/a.jar" POST "/api/v1/login-links"

# --- isolation: tenant B's session sees none of A's; the admin's sees all ---
expect_http 303 "$T/b.jar" GET "$(link "$TB")"
for u in "/jobs/$id2" "/api/v1/jobs/$id2/console" "/api/v1/jobs/$id2/artifacts/results.json"; do
    expect_http 404 "$T/b.jar" GET "$u"
done
expect_http 200 "$T/b.jar" GET "/"
expect_in "$T/body" "No jobs yet"
expect_not_in "$T/body" "busybox"
expect_http 303 "$T/r.jar" GET "$(link "$TR")"
expect_http 200 "$T/r.jar" GET "/"
expect_in "$T/body" "<a href=\"/jobs/$id1\">$id1</a>"
expect_http 200 "$T/r.jar" GET "/jobs/$id2"
expect_in "$T/body" "root (admin)"

# --- no session: to the sign-in form; the form takes the token, not a wrong one or another site's ---
expect_http 303 "$T/none.jar" GET "/jobs/$id2"
grep -qi "^location: /login?next=/jobs/$id2" "$T/head" || { cat "$T/head"; fail "no redirect to the sign-in form"; }
expect_http 200 "$T/none.jar" GET "/login?next=/jobs/$id2"
expect_in "$T/body" 'type="password"'
expect_http 401 "$T/none.jar" POST /login --data-urlencode "token=kt_$(printf '%064d' 0)"
expect_http 403 "$T/none.jar" POST /login -H "Origin: http://evil.example" --data-urlencode "token=$TA"
expect_http 303 "$T/form.jar" POST /login -H "Origin: $S" --data-urlencode "token=$TA" --data-urlencode "next=/workers"
grep -qi "^location: /workers" "$T/head" || fail "the form sign-in did not lead to next"
expect_http 200 "$T/form.jar" GET "/workers"
expect_http 303 "$T/form.jar" POST /logout
expect_http 303 "$T/form.jar" GET "/workers"  # signed out: the session is gone
expect_http 404 "$T/none.jar" GET "/no/such/page"

# --- kiln submit's default image name: the file's name without version and extensions (a job
# asking for more vCPUs than any worker offers stays queued, so no VM runs for it) ---
cp "$BB/initrd.img" debian-server-1.0.1.qcow2
for f in debian-server-1.0.1.qcow2 "$BB/initrd.img"; do
    qid=$(KILN_TOKEN=$TA "$KILN" submit --server "$S" --cpus 64 --kernel "$BB/vmlinuz" "$f" 2> submit3.err) || { cat submit3.err; fail "submit $f"; }
    curl -s -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$qid" > q.json
    case $f in *qcow2) want=debian-server ;; *) want=initrd ;; esac
    expect_jq q.json .spec.image_name "$want"
    expect_jq q.json .state queued
    curl -sf -X POST -H "Authorization: Bearer $TA" "$S/api/v1/jobs/$qid/cancel" > /dev/null || fail "cancel $qid"
done

kill -TERM $w1_pid $serve_pid
wait $w1_pid
wait $serve_pid
expect_no_qemu
# --- secrets: no token, link nonce or session id in the server's log ---
for t in "$TA" "$TB" "$TR" "$W1"; do ! grep -qF "${t#k?_}" serve.log || fail "a token is in the server's log"; done
! grep -Eq '/login/[0-9a-f]{8}' serve.log || fail "a sign-in link's nonce is in the server's log"
for j in "$T"/*.jar; do
    for sid in $(awk '$6 == "kiln_session" && $7 != "" {print $7}' "$j"); do
        ! grep -qF "$sid" serve.log || fail "a session id is in the server's log"
    done
done
expect_in serve.log "GET /login/(link) -> 303"
echo "dashboard: job $id2's page shows its failing case and the hostile strings as text (Chromium); sign-in, isolation and headers checked"

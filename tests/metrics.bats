#!/usr/bin/env bats
# The metrics handler: GET /metrics in the Prometheus text format, checked
# with promtool, and scraped once by a real Prometheus server.

load helpers

setup_file() {
	if ! command -v promtool >/dev/null && [ "$(id -u)" -eq 0 ] &&
	    command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends prometheus >/dev/null 2>&1 || true
	fi
}

# A service e (echo) and a service m (metrics) on free ports: PORT and
# MPORT.  EXTRA goes into m's entry.
two_services() {
	PORT=$(free_port)
	MPORT=$(free_port)
	write_conf "${2:-}" "$(conf_service e echo "\"127.0.0.1:$PORT\"" 'workers = 2;')
$(conf_service m metrics "\"127.0.0.1:$MPORT\"" "workers = 1; ${1:-}")"
	start_tcpd 3
}

# get PATH [METHOD]: one HTTP/1.1 request to the metrics service; the
# whole answer, head and body, in $output.
get() {
	run -0 timeout 10 bash -c 'printf "%s %s HTTP/1.1\r\nHost: x\r\n\r\n" "$3" "$2" | nc -N 127.0.0.1 "$1"' \
	    get "$MPORT" "$1" "${2:-GET}"
}

# metric LINE_START: the value of the first sample line that starts so.
metric() {
	get /metrics
	printf '%s\n' "$output" | tr -d '\r' | awk -v k="$1" 'index($0, k " ") == 1 { print $2; exit }'
}

metric_is() {	# metric_is LINE_START VALUE: a condition for wait_for
	[ "$(metric "$1")" = "$2" ]
}

@test "GET /metrics: 200, the text format, and promtool finds nothing wrong" {
	command -v promtool >/dev/null || skip "promtool is not installed (Debian: prometheus)"
	two_services
	assert_echo "$PORT" hello
	get /metrics
	assert_line --partial "HTTP/1.1 200 OK"
	assert_line --partial "Content-Type: text/plain; version=0.0.4; charset=utf-8"
	printf '%s\n' "$output" | tr -d '\r' | sed '1,/^$/d' >"$T/body"
	run -0 promtool check metrics <"$T/body"
	grep -q '^# TYPE tcpd_connections_accepted_total counter$' "$T/body"
	grep -q '^tcpd_slot_up{service="e",slot="1"} 1$' "$T/body"
}

@test "the figures follow the traffic: accepted, bytes, refused by reason, queue" {
	two_services '' 'access = [ "deny 127.0.0.9", "allow all" ];'
	for i in 1 2 3; do assert_echo "$PORT" "hello $i"; done
	run -0 timeout 5 bash -c 'printf "x\n" | nc -N -s 127.0.0.9 127.0.0.1 "$1"' _ "$PORT"
	wait_for 5 metric_is 'tcpd_connections_accepted_total{service="e"}' 4
	wait_for 5 metric_is 'tcpd_connections_refused_total{service="e",reason="access"}' 1
	# Each echo moved "hello N\n": 8 bytes each way.
	wait_for 5 metric_is 'tcpd_received_bytes_total{service="e"}' 24
	[ "$(metric 'tcpd_sent_bytes_total{service="e"}')" = 24 ]
	[ "$(metric 'tcpd_connections_refused_total{service="e",reason="rate"}')" = 0 ]
	[ "$(metric 'tcpd_service_workers_ready{service="e"}')" = 2 ]
	[ "$(metric 'tcpd_slot_accept_queue_max{service="e",slot="0"}')" = 4096 ]
	kill -HUP "$TCPD_PID"
	wait_for 10 metric_is 'tcpd_generation' 2
	[ "$(metric 'tcpd_reloads_total{result="ok"}')" = 1 ]
}

@test "anything but GET or HEAD /metrics: 404, 405, 400, 431; HEAD has no body" {
	two_services
	get /other
	assert_line --partial "HTTP/1.1 404 Not Found"
	get /metrics POST
	assert_line --partial "HTTP/1.1 405 Method Not Allowed"
	run -0 timeout 5 bash -c 'printf "nonsense\r\n\r\n" | nc -N 127.0.0.1 "$1"' _ "$MPORT"
	assert_line --partial "400 Bad Request"
	run -0 timeout 5 bash -c '{ printf "GET /metrics HTTP/1.1\r\n"; head -c 9000 /dev/zero | tr "\0" a; printf "\r\n\r\n"; } | nc -N 127.0.0.1 "$1"' _ "$MPORT"
	assert_line --partial "431 Request Header Fields Too Large"
	get /metrics HEAD
	assert_line --partial "HTTP/1.1 200 OK"
	refute_line --partial "tcpd_info"
	run -0 timeout 5 bash -c 'printf "GET /metrics HTTP/1.0\r\n\r\n" | nc -N 127.0.0.1 "$1"' _ "$MPORT"
	assert_line --partial "HTTP/1.0 200 OK"
}

# ask FORMAT: FORMAT (printf's) as the whole request, from a client that
# keeps its end open: only the server's answer and close end it.
ask() {
	run -0 timeout 5 bash -c 'printf "$2" | nc 127.0.0.1 "$1"' _ "$MPORT" "$1"
}

@test "a NUL byte, a bare CR or mixed line ends: 400 at once, not a wait" {
	two_services
	# The idle timeout (300 s) is far beyond the client's 5 s.
	ask 'GET /metrics HTTP/1.1\r\nHost: x\0y\r\n\r\n'
	assert_line --partial "400 Bad Request"
	ask 'GET /metrics\0 HTTP/1.1\r\n\r\n'
	assert_line --partial "400 Bad Request"
	# A bare LF line, then CRLF: no empty line of either kind.
	ask 'GET /metrics HTTP/1.1\n\r\n'
	assert_line --partial "400 Bad Request"
	ask 'GET /metrics HTTP/1.1\r\nHost: x\n\n'
	assert_line --partial "400 Bad Request"
	ask 'GET /metrics HTTP/1.1\r\nHost: x\r\n\n'
	assert_line --partial "400 Bad Request"
	ask 'GET /metrics HTTP/1.1\rHost: x\r\n\r\n'
	assert_line --partial "400 Bad Request"
	ask '\r\n\r\n'
	assert_line --partial "400 Bad Request"
	# Bare LFs throughout, or CRLFs throughout: answered.
	ask 'GET /metrics HTTP/1.1\nHost: x\n\n'
	assert_line --partial "HTTP/1.1 200 OK"
	assert_line --partial "tcpd_info"
	ask 'GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n'
	assert_line --partial "HTTP/1.0 200 OK"
	# What follows the head is not the head's business.
	ask 'GET /metrics HTTP/1.1\r\n\r\n\0\r'
	assert_line --partial "HTTP/1.1 200 OK"
}

@test "the metrics service's own access rules apply" {
	two_services 'access = [ "allow 127.0.0.1", "deny all" ];'
	run -0 timeout 5 bash -c 'printf "GET /metrics HTTP/1.0\r\n\r\n" | nc -N -s 127.0.0.2 127.0.0.1 "$1"' _ "$MPORT"
	assert_output ""
	wait_for 5 log_has_n 1 "refused service=m client=127\\.0\\.0\\.2"
	get /metrics
	assert_line --partial "HTTP/1.1 200 OK"
}

@test "a master that does not answer: 503, and the worker serves on" {
	two_services
	kill -STOP "$TCPD_PID"
	BG_CONT=$TCPD_PID
	get /metrics
	kill -CONT "$TCPD_PID"
	assert_line --partial "HTTP/1.1 503 Service Unavailable"
	wait_for 5 log_has_n 1 "metrics: no answer from the master in 2000 ms"
	get /metrics
	assert_line --partial "HTTP/1.1 200 OK"
	assert_line --partial "tcpd_info"
}

# prometheus_has QUERY_URL: the query has a result.
prometheus_has() {
	curl -sf "$1" | grep -q '"result":\[{'
}

@test "a real Prometheus server scrapes it" {
	command -v prometheus >/dev/null || skip "prometheus is not installed"
	command -v curl >/dev/null || skip "curl is not installed"
	two_services
	WEB=$(free_port)
	cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: tcpd
    static_configs:
      - targets: [ "127.0.0.1:$MPORT" ]
EOF
	prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	    --web.listen-address="127.0.0.1:$WEB" >"$T/prometheus.log" 2>&1 &
	BG_PIDS="${BG_PIDS:-} $!"
	wait_for 30 prometheus_has "http://127.0.0.1:$WEB/api/v1/query?query=tcpd_service_workers_ready%7Bservice%3D%22e%22%7D"
	run -0 curl -sf "http://127.0.0.1:$WEB/api/v1/query?query=up%7Bjob%3D%22tcpd%22%7D"
	assert_output --partial '"value":['
	assert_output --partial ',"1"]'
}

# bats keeps one teardown: a master left stopped goes on first.
eval "helpers_$(declare -f teardown)"
teardown() {
	[ -z "${BG_CONT:-}" ] || kill -CONT "$BG_CONT" 2>/dev/null
	helpers_teardown
}

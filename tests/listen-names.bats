#!/usr/bin/env bats
# listen addresses with a service name from /etc/services for the port,
# as inetd and xinetd configurations name them.

load helpers

setup_file() {
	if [ ! -f /etc/services ] && [ "$(id -u)" -eq 0 ]; then
		apt-get install -y -qq netbase >/dev/null 2>&1 ||
		    { apt-get update -qq && apt-get install -y -qq netbase; } >/dev/null 2>&1
	fi
	[ -f /etc/services ] || skip "/etc/services is missing (Debian package netbase)"
}

@test "a service name is its port from /etc/services, in IPv4 and IPv6 addresses" {
	# The same port, written twice: the clash says which port the names are.
	check "1: listen address 127.0.0.1:873 clashes with 127.0.0.1:873 of service 'e' (line 1)" \
	    'services = ( { name = "e"; handler = "echo"; listen = [ "127.0.0.1:rsync", "127.0.0.1:873" ]; } );'
	check "1: listen address [::]:9418 clashes with [::]:9418 of service 'e' (line 1)" \
	    'services = ( { name = "e"; handler = "echo"; listen = [ "[::]:git", "[::]:9418" ]; } );'
	printf '%s\n' 'services = ( { name = "e"; handler = "echo";' \
	    '  listen = [ "0.0.0.0:rsync", "[::]:git", "127.0.0.1:daytime" ]; } );' >"$CONF"
	run -0 "$TCPD" -t -c "$CONF"
}

@test "an unknown service name is a FILE:LINE error, at -t and at reload" {
	check "2: bad listen address '127.0.0.1:no-such-service': no such TCP service in /etc/services" \
	    'services = ( { name = "e"; handler = "echo";' \
	    '  listen = [ "127.0.0.1:no-such-service" ]; } );'
	check "1: bad listen address '127.0.0.1:rsync!': expected a.b.c.d:port or [ipv6]:port, port 1-65535 or a name from /etc/services" \
	    'services = ( { name = "e"; handler = "echo"; listen = [ "127.0.0.1:rsync!" ]; } );'
	one_service echo echo
	sed -i "s/127.0.0.1:$PORT/127.0.0.1:no-such-service/" "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload refused: $CONF:[0-9]+: bad listen address '127.0.0.1:no-such-service': no such TCP service"
	assert_echo "$PORT" still
}

@test "tcpd listens on the port the name stands for" {
	[ "$(id -u)" -eq 0 ] || skip "a private /etc/services needs root (mount namespace)"
	# A name of our own for a free port, in a copy of /etc/services that
	# only this tcpd sees.
	PORT=$(free_port)
	{ cat /etc/services; printf 'tcpdtest\t%s/tcp\n' "$PORT"; } >"$T/services"
	tcpd_over_file "$T/services" /etc/services
	write_conf '' "$(conf_service echo echo '"127.0.0.1:tcpdtest"' 'workers = 1;')"
	start_tcpd 1
	listening "$PORT"
	assert_echo "$PORT" named
}

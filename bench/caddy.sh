# shellcheck shell=bash
# caddy.sh writes Caddy's config (write_caddy, called by start_proxy in
# configs.sh). Sourced by run.sh; uses its globals (PORT, FEATURES).
#
# The config is meant to match the others (see configs.sh): one loopback
# listener, "/" to a round-robin group of the two upstreams, keep-alive on both
# sides, no access log, WORKERS Go threads. Caddy's defaults that would differ
# are lined up below; `--keep` leaves the generated Caddyfile under run/caddy/.

# caddy_features prints, with --features, the site-level part of a production
# config: a JSON access log written to a file and 49 prefix routes ahead of the
# catch-all that wrk hits (nginx's 49 `location /svcN/`, HAProxy's 49 ACLs).
# Each prefix route gets its own reverse_proxy, as each nginx location gets its
# own proxy_pass; wrk never reaches them, so their pools stay empty.
caddy_features() {
	((FEATURES)) || return 0
	local i
	printf '\tlog {\n\t\toutput file %s/access.log\n\t\tformat json\n\t}\n' "$1"
	for i in $(seq 1 49); do
		printf '\thandle /svc%d/* {\n\t\treverse_proxy 127.0.0.1:%s 127.0.0.1:%s\n\t}\n' "$i" "${PORT[up1]}" "${PORT[up2]}"
	done
}

# caddy_health prints, with --features, active health checks like fjord's
# (GET / every second); nginx and HAProxy get none in that mode either way.
caddy_health() {
	((FEATURES)) || return 0
	printf '\t\t\thealth_uri /\n\t\t\thealth_interval 1s\n'
}

# write_caddy DIR writes DIR/Caddyfile. Why each global option is there:
#   admin off      no admin listener on :2019 (the others have no control port);
#   auto_https off plain HTTP only: no certificate work, no :80 redirect server.
# The site address has no host, so Caddy adds no Host matcher (the others match
# no host either); `bind` keeps the listener on loopback.
# Caddy's HTTP transport keeps only 32 idle connections per upstream by default;
# with 64 or 256 client connections it would close and redial upstream
# connections under load, so the idle pool is raised to fjord's 512 per
# instance (nginx keepalive 512, HAProxy unbounded), with the others' 60 s idle
# timeout and their connect and response timeouts.
write_caddy() {
	local dir=$1
	cat >"$dir/Caddyfile" <<EOF
{
	admin off
	auto_https off
}

http://:${PORT[caddy]} {
	bind 127.0.0.1
$(caddy_features "$dir")
	handle {
		reverse_proxy 127.0.0.1:${PORT[up1]} 127.0.0.1:${PORT[up2]} {
			lb_policy round_robin
$(caddy_health)
			transport http {
				dial_timeout 2s
				response_header_timeout 30s
				keepalive 60s
				keepalive_idle_conns 1024
				keepalive_idle_conns_per_host 512
			}
		}
	}
}
EOF
}

# shellcheck shell=bash
# configs.sh writes the upstream and proxy configs and starts the servers.
# Sourced by run.sh; uses its globals (WORK, PORT, SIZE, WORKERS, CONNS,
# LOAD_THREADS, LIFETIME, PROXY_CPUS, LOAD_CPUS) and helpers (start_server,
# check_200, free_port, log).
#
# The three proxy configs are meant to be equivalent: one loopback listener,
# "/" to a round-robin group of the two upstreams, keep-alive on both sides,
# no access logs, WORKERS workers/threads. Change one, change all three.

# nginx_common DIR prints the top of an nginx config whose state (pid, error
# log, temp files) lives under DIR, away from the system nginx.
nginx_common() {
	local dir=$1 nworkers=$2 wconns=$3
	cat <<EOF
worker_processes $nworkers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log error;
events { worker_connections $wconns; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    # Default keepalive_requests (1000) would make nginx alone close client
    # connections during a run; the other proxies have no such cap.
    keepalive_timeout 65s;
    keepalive_requests 1000000;
EOF
}

# start_upstreams runs one nginx (LOAD_THREADS workers, on the load CPUs)
# listening on two ports, answering any path with 200 and a SIZE-byte body.
start_upstreams() {
	local dir=$WORK/run/upstream
	mkdir -p "$dir/tmp" "$dir/www"
	PORT["up1"]=$(free_port)
	PORT["up2"]=$(free_port)
	# A static file, not `return 200 "..."`: nginx rejects config tokens over
	# 4 KiB. open_file_cache keeps it to one open() for the whole run.
	head -c "$SIZE" /dev/zero | tr '\0' x >"$dir/www/body"
	chmod -R a+rX "$dir/www"
	{
		nginx_common "$dir" "$LOAD_THREADS" 4096
		cat <<EOF
    default_type application/octet-stream;
    sendfile on;
    etag off;
    open_file_cache max=16 inactive=1h;
    open_file_cache_valid 1h;
    server {
        listen 127.0.0.1:${PORT[up1]} backlog=4096;
        listen 127.0.0.1:${PORT[up2]} backlog=4096;
        root $dir/www;
$( ((POST)) && echo '        client_max_body_size 0; error_page 405 =200 /body; # POST to the static body: 200')
        location / {
            rewrite ^ /body break;
$( ((CHUNKED)) && echo '            ssi on; ssi_types *; # the length is unknown to SSI: chunked')
        }
    }
}
EOF
	} >"$dir/nginx.conf"
	log "upstreams on 127.0.0.1:${PORT[up1]} and 127.0.0.1:${PORT[up2]} (CPUs '${LOAD_CPUS}')"
	start_server upstream "${PORT[up2]}" "$LOAD_CPUS" "$LIFETIME" \
		nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf"
	# Both ports must answer: wait_port only saw the second one.
	check_200 upstream "${PORT[up1]}"
	check_200 upstream "${PORT[up2]}"
}

# With --features, each proxy gets what a production config has on: 50 routes (49 prefixes before the catch-all
# that wrk hits), an access log written to a file, and for fjord health checks and its (default) bulkhead,
# outlier detection and retry budget. Without it these print nothing.
nginx_features() {
	((FEATURES)) || return 0
	local i
	echo "        access_log $1/access.log;"
	for i in $(seq 1 49); do
		printf '        location /svc%d/ { proxy_pass http://bench; proxy_http_version 1.1; proxy_set_header Connection ""; }\n' "$i"
	done
}

haproxy_features() {
	((FEATURES)) || return 0
	local i
	echo "    log stdout format raw local0"
	echo "    option httplog"
	for i in $(seq 1 49); do
		printf '    acl svc%d path_beg /svc%d/\n    use_backend bench if svc%d\n' "$i" "$i" "$i"
	done
}

fjord_features() {
	[[ -n $FJORD_ENGINE ]] && echo "server: {engine: $FJORD_ENGINE}"
	((FEATURES)) || return 0
	local i
	echo "access_log: {format: json, path: $1/access.log}"
}

fjord_feature_routes() {
	((FEATURES)) || return 0
	local i
	for i in $(seq 1 49); do
		printf '  - {match: {path_prefix: /svc%d/}, service: bench}\n' "$i"
	done
}

write_nginx() {
	local dir=$1
	# Each client connection may hold an upstream connection too.
	local wconns=$((CONNS * 2 + 1024))
	{
		nginx_common "$dir" "$WORKERS" "$wconns"
		cat <<EOF
    upstream bench {
        server 127.0.0.1:${PORT[up1]};
        server 127.0.0.1:${PORT[up2]};
        # As many idle upstream connections as fjord keeps (max_idle_per_instance 512) and HAProxy
        # (http-reuse always, unbounded): with fewer than the client connections, nginx alone would close and
        # reopen upstream connections under load (at c256, keepalive 64 costs nginx a third of its throughput).
        keepalive 512;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:${PORT[nginx]} backlog=4096;
$( ((POST)) && echo '        client_max_body_size 2m; client_body_buffer_size 64k; # bodies in memory, as fjord keeps up to 64 KiB')
$(nginx_features "$dir")
        location / {
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
        }
    }
}
EOF
	} >"$dir/nginx.conf"
}

write_haproxy() {
	cat >"$1/haproxy.cfg" <<EOF
global
    nbthread $WORKERS
    maxconn $((CONNS * 2 + 1024))

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 30s
    timeout http-keep-alive 60s
    http-reuse always

frontend bench
    bind 127.0.0.1:${PORT[haproxy]}
$(haproxy_features)
    default_backend bench

backend bench
    balance roundrobin
    server up1 127.0.0.1:${PORT[up1]}
    server up2 127.0.0.1:${PORT[up2]}
EOF
}

write_fjord() {
	if ((FJORD_NGINX_CONF)); then
		# fjord runs the very nginx.conf nginx runs (issue 3's target), on its own port: nginx's directives that
		# only tune nginx are accepted with a notice.
		local save=${PORT[nginx]:-}
		PORT[nginx]=${PORT[fjord]}
		write_nginx "$1"
		PORT[nginx]=$save
		mv "$1/nginx.conf" "$1/fjord.conf"
		return
	fi
	local hc=""
	((FEATURES)) && hc="    health_check: {path: /, interval: 1s}"
	cat >"$1/fjord.yaml" <<EOF
listeners: [{address: "127.0.0.1:${PORT[fjord]}"}]
$(fjord_features "$1")
services:
  bench:
    instances: ["127.0.0.1:${PORT[up1]}", "127.0.0.1:${PORT[up2]}"]
    timeouts: {connect: 2s, response_header: 30s, idle: 60s}
    keepalive: {max_idle_per_instance: 512}
$hc
routes:
$(fjord_feature_routes)
  - match: {path_prefix: /}
    service: bench
EOF
}

# start_proxy NAME writes NAME's config, starts it on the proxy CPUs and
# checks one request end to end before any load is applied.
start_proxy() {
	local name=$1 dir=$WORK/run/$1
	mkdir -p "$dir/tmp"
	PORT["$name"]=$(free_port)
	"write_$name" "$dir"
	log "$name on 127.0.0.1:${PORT[$name]} (CPUs '${PROXY_CPUS}', $WORKERS worker(s))"
	case $name in
	nginx)
		start_server nginx "${PORT[nginx]}" "$PROXY_CPUS" "$LIFETIME" \
			nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf"
		;;
	haproxy)
		start_server haproxy "${PORT[haproxy]}" "$PROXY_CPUS" "$LIFETIME" haproxy -db -f "$dir/haproxy.cfg"
		;;
	fjord)
		start_server fjord "${PORT[fjord]}" "$PROXY_CPUS" "$LIFETIME" \
			env GOMAXPROCS="$WORKERS" "$WORK/fjord" run -c "$dir/$( ((FJORD_NGINX_CONF)) && echo fjord.conf || echo fjord.yaml)"
		;;
	caddy)
		# HOME and the XDG directories point into the run dir, so Caddy's storage and
		# autosaved config stay out of the user's home and go with the temp dir.
		start_server caddy "${PORT[caddy]}" "$PROXY_CPUS" "$LIFETIME" \
			env GOMAXPROCS="$WORKERS" HOME="$dir" XDG_CONFIG_HOME="$dir/tmp" XDG_DATA_HOME="$dir/tmp" \
			caddy run --config "$dir/Caddyfile" --adapter caddyfile
		;;
	esac
	check_200 "$name" "${PORT[$name]}"
}

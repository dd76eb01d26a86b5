vcl 4.1;
# Solidaria's edge: Varnish in front of gunicorn (Debian 12: varnish 7.1 and varnish-modules
# for xkey). The origin decides what may be shared: public pages say `Cache-Control: public,
# max-age=0, s-maxage=300, stale-while-revalidate=60` and name their tags in
# `Surrogate-Key`; after a change the task worker sends `PURGE` with those tags to a
# listener of its own, named `purge` (varnishd -a purge=127.0.0.1:6091;
# CDN_PURGE_BACKEND=http, CDN_PURGE_URL=http://127.0.0.1:6091/). Everything else passes.
# Install and operate: README (Deployment) and docs/operations.md ("Varnish in front").

import xkey;

# The origin: gunicorn. Change .host/.port for yours (the tests substitute the port). A
# second server would be a second backend and a round-robin director (vmod directors).
backend solidaria {
    .host = "127.0.0.1";
    .port = "8000";
    .connect_timeout = 2s;
    .first_byte_timeout = 60s;
    .between_bytes_timeout = 30s;
    # No health probe: /healthz wants the site's Host (ALLOWED_HOSTS), and a probe that
    # fails for that reason would take the whole site down. A refused connection fails
    # fast anyway, and a stale copy still answers within its grace (below).
}

# Who may purge: the machines that run `manage.py db_worker` (the purge task), and only
# through the listener named `purge`. The address alone is not enough: a TLS proxy on this
# machine (nginx, caddy) hands every visitor's request to Varnish from 127.0.0.1, PURGE
# included. Add the worker's address here when it runs elsewhere; anyone else gets 405.
acl purgers {
    "localhost";
    "127.0.0.1";
    "::1";
}

# Who may tell us the request came over HTTPS: a TLS terminator on this machine (nginx,
# caddy) that sets X-Forwarded-Proto. Any other client's claim is replaced by "http". (hitch
# speaks the PROXY protocol instead: there, test vmod proxy's proxy.is_ssl() in vcl_recv.)
acl tls_terminators {
    "localhost";
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    # Purge by tag: `PURGE /` with `Surrogate-Key: campaign-12 site` drops every page tagged
    # with any of them, in both languages. A hard purge: the next reader gets a fresh page
    # (readers arriving meanwhile wait for that one fetch). A soft purge would hand the
    # next reader the old copy, however long ago it was fetched: a total from minutes ago
    # on a quiet page.
    if (req.method == "PURGE") {
        if (local.socket != "purge" || client.ip !~ purgers) {
            return (synth(405, "Not allowed"));
        }
        if (!req.http.Surrogate-Key) {
            return (synth(400, "Surrogate-Key required"));
        }
        set req.http.X-Purged = xkey.purge(req.http.Surrogate-Key);
        return (synth(200, "Purged"));
    }

    # The scheme, for the app (gunicorn believes X-Forwarded-Proto from FORWARDED_ALLOW_IPS,
    # which includes us) and for the cache key. X-Forwarded-For: varnishd itself appends the
    # client's address, so the app counts one proxy more (TRUSTED_PROXY_COUNT).
    if (client.ip !~ tls_terminators || req.http.X-Forwarded-Proto !~ "^https?$") {
        set req.http.X-Forwarded-Proto = "http";
    }

    # Varnish's own rules, minus its cookie one: lower-case Host; GET and HEAD may be
    # cached, POST and every other method pass to the origin (unknown ones are piped);
    # Authorization passes.
    call vcl_req_host;
    call vcl_req_method;
    call vcl_req_authorization;

    # A signed-in person (organizer, volunteer, donor, admin) has a session cookie: their
    # pages are theirs alone, so never look them up in the cache.
    if (req.http.Cookie ~ "(^|;)\s*sessionid=") {
        return (pass);
    }

    # Tracking parameters change nothing on our pages: drop them so a shared link's
    # ?utm_source=… or ?fbclid=… does not make a cache entry of its own (the origin never
    # sees them either). Then a dangling "?" or "&" goes too.
    if (req.url ~ "(?i)[?&](utm_[a-z0-9_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid)=") {
        set req.url = regsuball(
            req.url, "(?i)(?<=[?&])(utm_[a-z0-9_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid)=[^&]*(&|$)", "");
        set req.url = regsub(req.url, "[?&]+$", "");
    }

    # Look every other GET and HEAD up, whatever other cookies it carries (language,
    # csrftoken, analytics): they still go to the origin on a miss, so pages that use them
    # work, and the origin's answer decides whether it is kept (vcl_backend_response).
    return (hash);
}

sub vcl_hash {
    # URL and Host (Varnish's default), and the scheme: an http:// and an https:// request
    # never share an entry. English and Spanish differ by URL (/c/x/ and /es/c/x/).
    hash_data(req.http.X-Forwarded-Proto);
}

sub vcl_backend_response {
    # The page's tags become xkey's index, so a PURGE by tag finds it.
    if (beresp.http.Surrogate-Key) {
        set beresp.http.xkey = beresp.http.Surrogate-Key;
    }

    # Keep only what the origin marks shareable (public, or an s-maxage): a page with no
    # Cache-Control at all (an error, a redirect) would otherwise be kept for Varnish's
    # default 2 minutes. Not kept ("hit-for-miss"): the next request asks the origin again.
    if (beresp.http.Cache-Control !~ "(?i)(^|[ ,])(public|s-maxage=)") {
        set beresp.ttl = 120s;
        set beresp.uncacheable = true;
        return (deliver);
    }

    # Varnish's own rules then refuse a response that sets a cookie or says private,
    # no-store or no-cache. How long a kept page lives comes from the origin: the TTL is
    # s-maxage (before max-age), and grace, the time a stale copy may still answer while a
    # fresh one is fetched in the background, is stale-while-revalidate (Varnish 7.1 maps it
    # to beresp.grace; without it, default_grace: 10 s).

    # Compress text once here, not for every reader (browsers all ask for gzip; others get
    # it unzipped on the way out).
    if (!beresp.http.Content-Encoding && beresp.http.Content-Type ~
            "^(text/|application/(json|javascript|xml|manifest\+json)|image/svg\+xml)") {
        set beresp.do_gzip = true;
    }
}

sub vcl_deliver {
    # HIT (from the cache, perhaps a stale copy in grace) or MISS (from the origin: a miss,
    # or a pass). For tests and for `curl -I`.
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    unset resp.http.xkey;
}

sub vcl_synth {
    # The answer to PURGE says how many pages it dropped.
    if (req.method == "PURGE" && resp.status == 200) {
        set resp.http.X-Purged = req.http.X-Purged;
        set resp.http.Content-Type = "text/plain; charset=utf-8";
        set resp.body = "Purged " + req.http.X-Purged + " objects" + {"
"};
        return (deliver);
    }
}

#!/usr/bin/python3
"""A stand-in for Confluent's schema registry, for rowcast's tests.

No real schema registry runs here (it is a Java service), so the tests use this small server
instead. It implements only the documented REST endpoints the tests use, with the documented
request and answer shapes and error codes
(https://docs.confluent.io/platform/current/schema-registry/develop/api.html):

    POST /subjects/{subject}/versions     {"schema": "<text>"[, "schemaType": "AVRO"]}
                                          -> {"id": N}; the same schema under a subject gets the
                                          same id and no new version; a new schema gets the next
                                          version of the subject; ids are global (one schema,
                                          one id, whatever the subject)
    GET  /schemas/ids/{id}                -> {"schema": "<text>"}
    GET  /subjects                        -> ["subject", ...]
    GET  /subjects/{subject}/versions     -> [1, 2, ...]
    GET  /subjects/{subject}/versions/{version|latest}
                                          -> {"subject", "version", "id", "schema"}

Errors are {"error_code": N, "message": "..."}: 404 with 40401 (subject), 40402 (version),
40403 (schema); 422 with 42201 (invalid schema: not JSON, or not Avro when python3-avro is
installed) and 422 with 422 (malformed request); 405/404 for anything else. Schemas are
compared after JSON normalisation (key order and blanks do not matter), as the real registry
compares parsed schemas. No compatibility checks, no deletes, no modes or configs, no auth.

Usage: registry_standin.py [--port 0] [--verbose] [--store FILE] [--exit-after-posts N] [--reject]
Prints its base URL ("http://127.0.0.1:PORT") as the first line of stdout, then serves until
killed (SIGTERM/SIGINT) or until its stdin reaches EOF when --exit-on-stdin-eof is given.
Requests counts by endpoint are on GET /_standin/stats (not part of the real API).

For the outage tests: --store FILE keeps the schemas and subjects in FILE, loaded at start and
written after each new registration, so that a stand-in started again on the same port keeps
its ids (the real registry keeps them in Kafka); --exit-after-posts N answers N registrations,
then stops listening and exits (a registry that goes away mid-run); --reject answers every
registration with 409 / 409, as the real registry does for a schema incompatible with the
subject's earlier versions.
"""
import argparse
import json
import os
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import warnings

try:
    import avro.schema as _avro_schema
except ImportError:  # validation of Avro is then only "is it JSON"
    _avro_schema = None
warnings.filterwarnings("ignore")  # python3-avro: "Unknown local-timestamp-micros, using long"

CT = "application/vnd.schemaregistry.v1+json"


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.schemas = []      # id - 1 -> schema text (as first registered)
        self.by_norm = {}      # normalised text -> id
        self.subjects = {}     # subject -> [id of version 1, id of version 2, ...]
        self.stats = {}

    def load(self, path):
        with open(path) as f:
            d = json.load(f)
        self.schemas = d["schemas"]
        self.subjects = d["subjects"]
        self.by_norm = {normalise(t): i + 1 for i, t in enumerate(self.schemas)}

    def save(self, path):  # with self.lock held
        with open(path + ".tmp", "w") as f:
            json.dump({"schemas": self.schemas, "subjects": self.subjects}, f)
        os.replace(path + ".tmp", path)

    def count(self, what):
        with self.lock:
            self.stats[what] = self.stats.get(what, 0) + 1


def normalise(text):
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


class Handler(BaseHTTPRequestHandler):
    server_version = "rowcast-registry-standin/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("registry_standin: " + (fmt % args) + "\n")

    # ---------------------------------------------------------------- replies

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", CT)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message):
        self.reply(status, {"error_code": code, "message": message})

    def path_parts(self):
        path = urllib.parse.urlsplit(self.path).path
        return [urllib.parse.unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []

    # ---------------------------------------------------------------- endpoints

    def do_GET(self):
        st = self.server.store
        p = self.path_parts()
        if p == ["_standin", "stats"]:
            with st.lock:
                return self.reply(200, dict(st.stats))
        if len(p) == 3 and p[:2] == ["schemas", "ids"]:
            st.count("GET /schemas/ids")
            if not re.fullmatch(r"\d+", p[2]):
                return self.error(404, 40403, "Schema %s not found" % p[2])
            i = int(p[2])
            with st.lock:
                if not 1 <= i <= len(st.schemas):
                    return self.error(404, 40403, "Schema %d not found" % i)
                return self.reply(200, {"schema": st.schemas[i - 1]})
        if p == ["subjects"]:
            st.count("GET /subjects")
            with st.lock:
                return self.reply(200, sorted(st.subjects))
        if len(p) in (3, 4) and p[0] == "subjects" and p[2] == "versions":
            st.count("GET /subjects/versions")
            with st.lock:
                versions = st.subjects.get(p[1])
                if versions is None:
                    return self.error(404, 40401, "Subject '%s' not found." % p[1])
                if len(p) == 3:
                    return self.reply(200, list(range(1, len(versions) + 1)))
                v = p[3]
                if v == "latest":
                    n = len(versions)
                elif re.fullmatch(r"\d+", v) and 1 <= int(v) <= len(versions):
                    n = int(v)
                else:
                    return self.error(404, 40402, "Version %s not found." % v)
                i = versions[n - 1]
                return self.reply(200, {"subject": p[1], "version": n, "id": i,
                                        "schema": st.schemas[i - 1]})
        self.error(404, 404, "HTTP 404 Not Found (the stand-in does not implement %s)" % self.path)

    def do_POST(self):
        st = self.server.store
        p = self.path_parts()
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not (len(p) == 3 and p[0] == "subjects" and p[2] == "versions"):
            return self.error(404, 404, "HTTP 404 Not Found (the stand-in does not implement POST %s)"
                              % self.path)
        st.count("POST /subjects/versions")
        subject = p[1]
        if self.server.reject:
            return self.error(409, 409, "Schema being registered is incompatible with an earlier schema "
                              "for subject \"%s\"" % subject)
        try:
            req = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            return self.error(422, 422, "Unrecognized request body: %s" % e)
        if not isinstance(req, dict) or not isinstance(req.get("schema"), str):
            return self.error(422, 422, "the request needs a string field \"schema\"")
        if req.get("schemaType", "AVRO") != "AVRO":
            return self.error(422, 42201, "the stand-in only knows AVRO schemas")
        text = req["schema"]
        try:
            norm = normalise(text)
            if _avro_schema is not None:
                _avro_schema.parse(text)
        except Exception as e:
            return self.error(422, 42201, "Invalid schema: %s" % e)
        with st.lock:
            i = st.by_norm.get(norm)
            if i is None:
                st.schemas.append(text)
                i = len(st.schemas)
                st.by_norm[norm] = i
            versions = st.subjects.setdefault(subject, [])
            if i not in versions:
                versions.append(i)
            if self.server.store_path:
                st.save(self.server.store_path)
            self.server.posts += 1
            last = self.server.exit_after is not None and self.server.posts >= self.server.exit_after
        self.reply(200, {"id": i})
        if last:  # gone: no more connections accepted once this answer is out
            self.close_connection = True
            threading.Thread(target=self.server.go_away, daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0: a free port chosen by the kernel")
    ap.add_argument("--verbose", action="store_true", help="log every request on stderr")
    ap.add_argument("--exit-on-stdin-eof", action="store_true")
    ap.add_argument("--store", help="keep the schemas in this file across runs")
    ap.add_argument("--exit-after-posts", type=int, help="exit after answering this many registrations")
    ap.add_argument("--reject", action="store_true", help="refuse every registration (409)")
    a = ap.parse_args()
    ThreadingHTTPServer.allow_reuse_address = True  # started again on the same port after --exit-after-posts
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.store = Store()
    if a.store and os.path.exists(a.store):
        srv.store.load(a.store)
    srv.store_path = a.store
    srv.exit_after = a.exit_after_posts
    srv.reject = a.reject
    srv.posts = 0

    def go_away():
        srv.shutdown()
        srv.server_close()
    srv.go_away = go_away
    srv.verbose = a.verbose
    print("http://127.0.0.1:%d" % srv.server_address[1], flush=True)
    if a.exit_on_stdin_eof:
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            srv.shutdown()
        threading.Thread(target=watch, daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    if srv.exit_after is not None and srv.posts >= srv.exit_after:
        sys.stdout.flush()
        os._exit(0)  # gone at once, without waiting for the stdin watch thread
    return 0


if __name__ == "__main__":
    sys.exit(main())

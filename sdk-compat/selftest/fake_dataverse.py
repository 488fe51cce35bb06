"""A small in-memory stand-in for Dataverse + Entra, used ONLY to check that the sdk-compat tests
themselves are right (they pass against something Dataverse-shaped) before the real emulator exists.
It is not a reference for the emulator: WIRE.md and the real service are.

Usage: python fake_dataverse.py STATE_DIR  (writes STATE_DIR/emulator.json, serves until killed)
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import ssl
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

API = "/api/data/v9.2"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
INDUSTRY = {1: "Accounting", 2: "Agriculture and Non-petrol Natural Resource Extraction", 3: "Broadcasting Printing and Publishing"}


class Fail(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ----------------------------------------------------------------------------- $filter


TOKEN = re.compile(
    r"\s*(?:(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<str>'(?:[^']|'')*')|(?P<dstr>\"[^\"]*\")|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_.@]*)|(?P<p>[(),\[\]=]))"
)


def tokenize(text: str):
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if not m:
            raise Fail(400, "0x80060888", f"Syntax error at position {pos} in '{text}'.")
        pos = m.end()
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "str":
            out.append(("lit", val[1:-1].replace("''", "'")))
        elif kind == "dstr":
            out.append(("lit", val[1:-1]))
        elif kind == "guid":
            out.append(("lit", val.lower()))
        elif kind == "num":
            out.append(("lit", float(val) if "." in val else int(val)))
        elif kind == "id" and val in ("true", "false", "null"):
            out.append(("lit", {"true": True, "false": False, "null": None}[val]))
        else:
            out.append((kind, val))
    return out


class FilterParser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, val=None):
        tok = self.peek()
        if tok[0] is None or (val is not None and tok[1] != val):
            raise Fail(400, "0x80060888", f"Syntax error: expected {val!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self):
        node = self.or_()
        if self.peek()[0] is not None:
            raise Fail(400, "0x80060888", f"Syntax error near {self.peek()[1]!r}")
        return node

    def or_(self):
        node = self.and_()
        while self.peek() == ("id", "or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.unary()
        while self.peek() == ("id", "and"):
            self.take()
            node = ("and", node, self.unary())
        return node

    def unary(self):
        if self.peek() == ("id", "not"):
            self.take()
            return ("not", self.unary())
        return self.primary()

    def primary(self):
        kind, val = self.peek()
        if (kind, val) == ("p", "("):
            self.take()
            node = self.or_()
            self.take(")")
            return node
        if kind != "id":
            raise Fail(400, "0x80060888", f"Syntax error near {val!r}")
        self.take()
        if val in ("startswith", "endswith", "contains"):
            self.take("(")
            col = self.take()[1]
            self.take(",")
            lit = self.take()[1]
            self.take(")")
            return (val, col.lower(), lit)
        if val == "Microsoft.Dynamics.CRM.In":
            self.take("(")
            self.take("PropertyName")
            self.take("=")
            col = self.take()[1]
            self.take(",")
            self.take("PropertyValues")
            self.take("=")
            self.take("[")
            vals = []
            while self.peek() != ("p", "]"):
                vals.append(self.take()[1])
                if self.peek() == ("p", ","):
                    self.take()
            self.take("]")
            self.take(")")
            return ("in", col.lower(), vals)
        op = self.take()[1]
        if op not in ("eq", "ne", "gt", "ge", "lt", "le"):
            raise Fail(400, "0x80060888", f"Unknown operator {op!r}")
        return ("cmp", op, val, self.take()[1])


def norm(v):
    return v.lower() if isinstance(v, str) else v


def evaluate(node, row, lower_cols: bool) -> bool:
    kind = node[0]
    if kind == "and":
        return evaluate(node[1], row, lower_cols) and evaluate(node[2], row, lower_cols)
    if kind == "or":
        return evaluate(node[1], row, lower_cols) or evaluate(node[2], row, lower_cols)
    if kind == "not":
        return not evaluate(node[1], row, lower_cols)
    if kind in ("startswith", "endswith", "contains"):
        v = row.get(node[1])
        if not isinstance(v, str):
            return False
        a, b = v.lower(), str(node[2]).lower()
        return {"startswith": a.startswith, "endswith": a.endswith, "contains": lambda x: x in a}[kind](b)
    if kind == "in":
        v = row.get(node[1])
        return v is not None and str(v).lower() in [str(x).lower() for x in node[2]]
    _, op, col, lit = node
    v = row.get(col.lower() if lower_cols else col)
    a, b = norm(v), norm(lit)
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if a is None or b is None:
        return False
    return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]


# ----------------------------------------------------------------------------- model


def attr_meta(schema: str, atype: str, **extra):
    return {"MetadataId": str(uuid.uuid4()), "SchemaName": schema, "LogicalName": schema.lower(), "AttributeType": atype, **extra}


def new_table(schema, set_name, pid, pname, attrs):
    logical = schema.lower()
    table = {
        "meta": {
            "MetadataId": str(uuid.uuid4()),
            "LogicalName": logical,
            "SchemaName": schema,
            "EntitySetName": set_name,
            "PrimaryIdAttribute": pid,
            "PrimaryNameAttribute": pname,
            "IsPrivate": False,
        },
        "attrs": {pid: attr_meta(pid, "Uniqueidentifier", IsPrimaryId=True)},
        "keys": [],
        "rows": {},
    }
    for a in attrs:
        table["attrs"][a["LogicalName"]] = a
    return table


def seed_state():
    acct = new_table(
        "Account",
        "accounts",
        "accountid",
        "name",
        [
            attr_meta("Name", "String", IsPrimaryName=True),
            attr_meta("Telephone1", "String"),
            attr_meta("WebSiteURL", "String"),
            attr_meta("AccountNumber", "String"),
            attr_meta("IndustryCode", "Picklist", Options=INDUSTRY),
        ],
    )
    contact = new_table(
        "Contact",
        "contacts",
        "contactid",
        "fullname",
        [
            attr_meta("FirstName", "String"),
            attr_meta("LastName", "String"),
            attr_meta("FullName", "String", IsPrimaryName=True),
            attr_meta("EMailAddress1", "String"),
            attr_meta("JobTitle", "String"),
            attr_meta("ParentCustomerId", "Lookup"),
        ],
    )
    tables = {"account": acct, "contact": contact}
    for i in range(57):
        rid = str(uuid.uuid4())
        acct["rows"][rid] = blank_row(acct, rid) | {"name": f"Seed Account {i:03d}", "industrycode": (i % 3) + 1}
    for i in range(83):
        rid = str(uuid.uuid4())
        contact["rows"][rid] = blank_row(contact, rid) | {"firstname": f"Seed{i:03d}", "lastname": "Contact"}
    return tables


def blank_row(table, rid):
    row = {}
    for name, a in table["attrs"].items():
        row["_" + name + "_value" if a["AttributeType"] == "Lookup" else name] = None
    row[table["meta"]["PrimaryIdAttribute"]] = rid
    return row


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.tables = seed_state()

    def by_logical(self, logical):
        t = self.tables.get(logical.lower())
        if not t:
            raise Fail(404, "0x80060888", f"Could not find entity with logical name '{logical}'.")
        return t

    def by_set(self, set_name):
        for t in self.tables.values():
            if t["meta"]["EntitySetName"] == set_name:
                return t
        raise Fail(404, "0x80060888", f"Resource not found for the segment '{set_name}'.")

    def by_metadata_id(self, mid):
        for t in self.tables.values():
            if t["meta"]["MetadataId"] == mid.lower():
                return t
        raise Fail(404, "0x80060888", f"Entity with MetadataId {mid} not found.")


# ----------------------------------------------------------------------------- record semantics


def apply_body(table, row, body):
    logical = table["meta"]["LogicalName"]
    for k, v in body.items():
        if k.startswith("@odata."):
            continue
        if k.endswith("@odata.bind"):
            nav = k.split("@", 1)[0]
            attr = nav if nav in table["attrs"] else nav.rsplit("_", 1)[0]
            if table["attrs"].get(attr, {}).get("AttributeType") != "Lookup":
                raise Fail(400, "0x80060888", f"An undeclared property '{nav}' which only has property annotations in the payload but no property value was found in the payload.")
            m = re.search(r"\(([0-9a-fA-F-]{36})\)", str(v))
            row["_" + attr + "_value"] = m.group(1).lower() if m else None
            continue
        a = table["attrs"].get(k)
        if a is None or a["AttributeType"] == "Lookup":
            raise Fail(400, "0x80060888", f"Invalid property '{k}' was found in entity 'Microsoft.Dynamics.CRM.{logical}'.")
        if a["AttributeType"] == "Picklist" and v is not None and v not in a["Options"]:
            raise Fail(400, "0x8004431a", f"A validation error occurred. The value {v} of '{k}' is outside the valid range.")
        row[k] = v
    if logical == "contact":
        row["fullname"] = " ".join(x for x in (row.get("firstname"), row.get("lastname")) if x) or None
    check_keys(table, row)


def check_keys(table, row):
    pid = table["meta"]["PrimaryIdAttribute"]
    for key in table["keys"]:
        vals = [row.get(a) for a in key["KeyAttributes"]]
        if any(v is None for v in vals):
            continue
        for other in table["rows"].values():
            if other[pid] != row[pid] and [other.get(a) for a in key["KeyAttributes"]] == vals:
                raise Fail(412, "0x80060892", "A record that has the attribute values " + ", ".join(map(str, vals)) + " already exists.")


def create_row(table, body, key_values=None):
    pid = table["meta"]["PrimaryIdAttribute"]
    rid = str(body.get(pid) or uuid.uuid4()).lower()
    row = blank_row(table, rid)
    row.update(key_values or {})
    apply_body(table, row, {k: v for k, v in body.items() if k != pid})
    table["rows"][rid] = row
    return rid


def parse_key_segment(seg: str):
    seg = seg.strip()
    if GUID.match(seg):
        return seg.lower(), None
    pairs = {}
    for m in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)=('(?:[^']|'')*'|[^,]+)\s*(?:,|$)", seg):
        raw = m.group(2)
        pairs[m.group(1).lower()] = raw[1:-1].replace("''", "'") if raw.startswith("'") else int(raw) if re.fullmatch(r"-?\d+", raw) else raw
    if not pairs:
        raise Fail(400, "0x80060888", f"Bad key segment '{seg}'.")
    return None, pairs


def find_by_key(table, pairs):
    for key in table["keys"]:
        if set(key["KeyAttributes"]) == set(pairs):
            for rid, row in table["rows"].items():
                if all(norm(row.get(a)) == norm(v) for a, v in pairs.items()):
                    return rid
            return None
    raise Fail(400, "0x80060888", f"The key {sorted(pairs)} is not defined on '{table['meta']['LogicalName']}'.")


def shape_row(table, row, select, annotations: str):
    pid = table["meta"]["PrimaryIdAttribute"]
    cols = list(row) if not select else list(dict.fromkeys([pid] + select))
    out = {"@odata.etag": 'W/"1"'}
    for c in cols:
        if c not in row:
            raise Fail(400, "0x80060888", f"Could not find a property named '{c}' on type 'Microsoft.Dynamics.CRM.{table['meta']['LogicalName']}'.")
        out[c] = row[c]
        a = table["attrs"].get(c)
        if a and a["AttributeType"] == "Picklist" and row[c] is not None and ("*" in annotations or "FormattedValue" in annotations):
            out[f"{c}@OData.Community.Display.V1.FormattedValue"] = a["Options"][row[c]]
    return out


# ----------------------------------------------------------------------------- HTTP dispatch


class Resp:
    def __init__(self, status, body=None, headers=None):
        self.status, self.body, self.headers = status, body, dict(headers or {})


def error(f: Fail) -> Resp:
    return Resp(f.status, {"error": {"code": f.code, "message": f.message}})


class Service:
    def __init__(self, base: str, store: Store, tokens: set):
        self.base, self.store, self.tokens = base, store, tokens

    def handle(self, method, target, headers, body: bytes) -> Resp:
        try:
            with self.store.lock:
                return self._handle(method, target, headers, body)
        except Fail as f:
            return error(f)

    def _handle(self, method, target, headers, raw: bytes) -> Resp:
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = {unquote(k): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        if not path.startswith(API + "/"):
            raise Fail(404, "0x80060888", "Resource not found.")
        rest = path[len(API) + 1 :]
        body = json.loads(raw.decode("utf-8")) if raw.strip() and rest != "$batch" else {}
        prefer = headers.get("prefer", "")
        st = self.store

        if rest == "CreateEntities" and method == "POST":
            return self.create_entities(body)
        if rest == "EntityDefinitions" and method == "GET":
            rows = [dict(t["meta"]) for t in st.tables.values()]
            return self.collection(rows, query, lower_cols=False)
        m = re.fullmatch(r"EntityDefinitions\(LogicalName='([^']+)'\)/Attributes/Microsoft\.Dynamics\.CRM\.PicklistAttributeMetadata", rest)
        if m and method == "GET":
            t = st.by_logical(m.group(1))
            vals = [
                {"LogicalName": a["LogicalName"], "MetadataId": a["MetadataId"], "OptionSet": {"Options": [{"Value": v, "Label": {"LocalizedLabels": [{"Label": l, "LanguageCode": 1033}]}} for v, l in a["Options"].items()]}}
                for a in t["attrs"].values()
                if a["AttributeType"] == "Picklist"
            ]
            return Resp(200, {"value": vals})
        m = re.fullmatch(r"EntityDefinitions\(LogicalName='([^']+)'\)/Keys(?:\(([0-9a-fA-F-]{36})\))?", rest)
        if m:
            t = st.by_logical(m.group(1))
            if method == "GET" and not m.group(2):
                return Resp(200, {"value": copy.deepcopy(t["keys"])})
            if method == "POST" and not m.group(2):
                for a in body["KeyAttributes"]:
                    if a not in t["attrs"]:
                        raise Fail(400, "0x80060888", f"Attribute {a} not found.")
                key = {"MetadataId": str(uuid.uuid4()), "SchemaName": body["SchemaName"], "LogicalName": body["SchemaName"].lower(), "KeyAttributes": list(body["KeyAttributes"]), "EntityKeyIndexStatus": "Active"}
                t["keys"].append(key)
                return Resp(204, headers={"OData-EntityId": f"{self.base}{API}/EntityDefinitions(LogicalName='{t['meta']['LogicalName']}')/Keys({key['MetadataId']})"})
            if method == "DELETE" and m.group(2):
                t["keys"] = [k for k in t["keys"] if k["MetadataId"] != m.group(2).lower()]
                return Resp(204)
        m = re.fullmatch(r"EntityDefinitions\(([0-9a-fA-F-]{36})\)(/Attributes(?:\(([0-9a-fA-F-]{36})\))?)?", rest)
        if m:
            t = st.by_metadata_id(m.group(1))
            if not m.group(2) and method == "DELETE":
                del st.tables[t["meta"]["LogicalName"]]
                return Resp(204)
            if m.group(2) and not m.group(3) and method == "GET":
                return self.collection([dict(a, **{"@odata.type": "#Microsoft.Dynamics.CRM." + a["AttributeType"] + "AttributeMetadata"}) for a in t["attrs"].values()], query, lower_cols=False)
            if m.group(2) and not m.group(3) and method == "POST":
                a = self.attribute_from_payload(body)
                t["attrs"][a["LogicalName"]] = a
                for row in t["rows"].values():
                    row[a["LogicalName"]] = None
                return Resp(204, headers={"OData-EntityId": f"{self.base}{API}/EntityDefinitions({m.group(1)})/Attributes({a['MetadataId']})"})
            if m.group(3) and method == "DELETE":
                name = next(n for n, a in t["attrs"].items() if a["MetadataId"] == m.group(3).lower())
                del t["attrs"][name]
                for row in t["rows"].values():
                    row.pop(name, None)
                return Resp(204)
        if rest == "$batch" and method == "POST":
            return self.batch(headers, raw)

        m = re.fullmatch(r"([A-Za-z0-9_]+)(?:\((.*)\))?(?:/Microsoft\.Dynamics\.CRM\.(CreateMultiple|UpdateMultiple|UpsertMultiple))?", rest)
        if not m:
            raise Fail(404, "0x80060888", f"Resource not found for the segment '{rest}'.")
        t = st.by_set(m.group(1))
        pid = t["meta"]["PrimaryIdAttribute"]
        action = m.group(3)
        if action and method == "POST":
            snapshot = copy.deepcopy(t["rows"])
            try:
                ids = []
                for target in body["Targets"]:
                    target = {k: v for k, v in target.items() if k not in ("@odata.type",)}
                    if action == "CreateMultiple":
                        ids.append(create_row(t, target))
                    elif action == "UpdateMultiple":
                        rid = str(target.get(pid, "")).lower()
                        if rid not in t["rows"]:
                            raise Fail(404, "0x80040217", f"{t['meta']['LogicalName']} With Id = {rid} Does Not Exist")
                        apply_body(t, t["rows"][rid], {k: v for k, v in target.items() if k != pid})
                    else:
                        seg = re.fullmatch(r"[A-Za-z0-9_]+\((.*)\)", target.pop("@odata.id"))
                        _, pairs = parse_key_segment(seg.group(1))
                        rid = find_by_key(t, pairs)
                        if rid:
                            apply_body(t, t["rows"][rid], target)
                        else:
                            rid = create_row(t, target, key_values=pairs)
                        ids.append(rid)
            except Fail:
                t["rows"] = snapshot
                raise
            if action == "UpdateMultiple":
                return Resp(204)
            return Resp(200, {"@odata.context": f"{self.base}{API}/$metadata#Microsoft.Dynamics.CRM.{action}Response", "Ids": ids})
        if m.group(2) is None:
            if method == "POST":
                rid = create_row(t, body)
                loc = f"{self.base}{API}/{m.group(1)}({rid})"
                return Resp(204, headers={"OData-EntityId": loc, "Location": loc})
            if method == "GET":
                return self.list_rows(t, m.group(1), query, prefer)
        rid, pairs = parse_key_segment(m.group(2) or "")
        if pairs is not None:
            rid = find_by_key(t, pairs)
        exists = rid is not None and rid in t["rows"]
        if method == "GET":
            if not exists:
                raise Fail(404, "0x80040217", f"{t['meta']['LogicalName']} With Id = {rid} Does Not Exist")
            select = [c for c in query.get("$select", "").split(",") if c]
            return Resp(200, shape_row(t, t["rows"][rid], select, prefer))
        if method == "DELETE":
            if not exists:
                raise Fail(404, "0x80040217", f"{t['meta']['LogicalName']} With Id = {rid} Does Not Exist")
            del t["rows"][rid]
            return Resp(204)
        if method == "PATCH":
            if not exists and headers.get("if-match") == "*":
                raise Fail(404, "0x80040217", f"{t['meta']['LogicalName']} With Id = {m.group(2)} Does Not Exist")
            if exists:
                snapshot = copy.deepcopy(t["rows"][rid])
                try:
                    apply_body(t, t["rows"][rid], body)
                except Fail:
                    t["rows"][rid] = snapshot
                    raise
            else:
                rid = create_row(t, dict(body, **({pid: rid} if rid else {})), key_values=pairs)
            loc = f"{self.base}{API}/{m.group(1)}({rid})"
            return Resp(204, headers={"OData-EntityId": loc})
        raise Fail(405, "0x80060888", f"{method} not supported here.")

    def collection(self, rows, query, lower_cols):
        if "$filter" in query:
            node = FilterParser(query["$filter"]).parse()
            rows = [r for r in rows if evaluate(node, r, lower_cols)]
        if "$select" in query:
            sel = query["$select"].split(",")
            rows = [{k: r.get(k) for k in sel} for r in rows]
        return Resp(200, {"value": rows})

    def list_rows(self, t, set_name, query, prefer):
        rows = list(t["rows"].values())
        if "$filter" in query:
            node = FilterParser(query["$filter"]).parse()
            rows = [r for r in rows if evaluate(node, r, True)]
        for part in reversed([p.strip() for p in query.get("$orderby", "").split(",") if p.strip()]):
            col, _, direction = part.partition(" ")
            rows.sort(key=lambda r: (r.get(col) is not None, norm(r.get(col))), reverse=direction.strip().lower() == "desc")
        total = len(rows)
        if "$top" in query:
            rows = rows[: int(query["$top"])]
        m = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        page = int(m.group(1)) if m else 5000
        skip = int(query.get("$skiptoken", 0))
        chunk = rows[skip : skip + page]
        select = [c for c in query.get("$select", "").split(",") if c]
        out = {"@odata.context": f"{self.base}{API}/$metadata#{set_name}", "value": [shape_row(t, r, select, prefer) for r in chunk]}
        if query.get("$count") == "true":
            out["@odata.count"] = total
        if skip + page < len(rows):
            nxt = {k: v for k, v in query.items() if k != "$skiptoken"}
            nxt["$skiptoken"] = str(skip + page)
            out["@odata.nextLink"] = f"{self.base}{API}/{set_name}?{urlencode(nxt)}"
        return Resp(200, out)

    def attribute_from_payload(self, a):
        kind = a["@odata.type"].rsplit(".", 1)[-1].replace("Complex", "").replace("AttributeMetadata", "")
        return attr_meta(a["SchemaName"], kind, IsPrimaryName=bool(a.get("IsPrimaryName")))

    def create_entities(self, body):
        ent = body["Entities"][0]
        schema = ent["SchemaName"]
        logical = schema.lower()
        if logical in self.store.tables:
            raise Fail(400, "0x80044363", f"An entity with the specified name {schema} already exists.")
        attrs = [self.attribute_from_payload(a) for a in ent["Attributes"]]
        primary = next(a for a in attrs if a.get("IsPrimaryName"))
        self.store.tables[logical] = new_table(schema, logical + "s", logical + "id", primary["LogicalName"], attrs)
        return Resp(204)

    # --------------------------------------------------------------- $batch

    def batch(self, headers, raw: bytes) -> Resp:
        boundary = re.search(r'boundary="?([^";,\s]+)"?', headers.get("content-type", ""))
        if not boundary:
            raise Fail(400, "0x80048d19", "Batch request must have a multipart Content-Type.")
        continue_on_error = "odata.continue-on-error" in headers.get("prefer", "")
        out_b = f"batchresponse_{uuid.uuid4()}"
        chunks, failed = [], False
        for part_headers, content in split_parts(raw.decode("utf-8"), boundary.group(1)):
            ct = part_headers.get("content-type", "")
            if "multipart/mixed" in ct:
                cs_b = re.search(r'boundary="?([^";,\s]+)"?', ct).group(1)
                snapshot = copy.deepcopy(self.store.tables)
                refs, resps, bad = {}, [], None
                for ih, ic in split_parts(content, cs_b):
                    r = self.inner(ic, refs)
                    cid = ih.get("content-id")
                    if r.status >= 400:
                        bad = r
                        break
                    if cid and "OData-EntityId" in r.headers:
                        refs["$" + cid] = r.headers["OData-EntityId"]
                    resps.append((cid, r))
                if bad is not None:
                    self.store.tables = snapshot
                    chunks.append(http_part(bad, None, out_b))
                    failed = True
                else:
                    cs_out = f"changesetresponse_{uuid.uuid4()}"
                    inner = "".join(http_part(r, cid, cs_out) for cid, r in resps) + f"--{cs_out}--\r\n"
                    chunks.append(f"--{out_b}\r\nContent-Type: multipart/mixed; boundary={cs_out}\r\n\r\n{inner}")
            else:
                r = self.inner(content, {})
                chunks.append(http_part(r, None, out_b))
                failed = r.status >= 400
            if failed and not continue_on_error:
                break
        text = "".join(chunks) + f"--{out_b}--\r\n"
        status = 400 if failed and not continue_on_error else 200
        return Resp(status, text.encode("utf-8"), {"Content-Type": f"multipart/mixed; boundary={out_b}"})

    def inner(self, content: str, refs) -> Resp:
        head, _, body = content.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        method, rest = lines[0].split(" ", 1)
        url = rest.rsplit(" ", 1)[0]
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if ":" in l)}
        if url.startswith("$"):
            ref = url.split("/", 1)[0]
            if ref not in refs:
                return error(Fail(400, "0x80060888", f"Content-ID Reference: '{ref}' does not exist in the batch context."))
            url = refs[ref] + url[len(ref) :]
        if url.startswith("http"):
            url = url[url.index(API) :]
        return self._safe(method, url, hdrs, body.encode("utf-8"))

    def _safe(self, method, url, hdrs, body):
        try:
            return self._handle(method, url, hdrs, body)
        except Fail as f:
            return error(f)


def split_parts(text: str, boundary: str):
    parts, cur, inside = [], [], False
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == f"--{boundary}" or line == f"--{boundary}--":
            if inside:
                head, _, content = "\n".join(cur).partition("\n\n")
                hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in head.split("\n") if ":" in l)}
                parts.append((hdrs, content))
            cur, inside = [], line == f"--{boundary}"
            continue
        if inside:
            cur.append(line)
    return parts


REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 412: "Precondition Failed"}


def http_part(r: Resp, cid, boundary: str) -> str:
    head = f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if cid:
        head += f"Content-ID: {cid}\r\n"
    lines = [f"HTTP/1.1 {r.status} {REASONS.get(r.status, 'Status')}", "OData-Version: 4.0"]
    lines += [f"{k}: {v}" for k, v in r.headers.items()]
    body = ""
    if r.body is not None:
        lines.append("Content-Type: application/json; odata.metadata=minimal")
        body = json.dumps(r.body, ensure_ascii=False)
    return head + "\r\n" + "\r\n".join(lines) + "\r\n\r\n" + body + "\r\n"


# ----------------------------------------------------------------------------- server


def make_certs(d: Path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=fake-ca", "-keyout", d / "ca.key", "-out", d / "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", d / "server.key", "-out", d / "server.csr"], check=True, capture_output=True)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key", "-CAcreateserial", "-days", "2", "-out", d / "server.pem", "-extfile", d / "ext.cnf"], check=True, capture_output=True)


def main():
    state = Path(sys.argv[1])
    listen = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1:0"
    host, port = listen.rsplit(":", 1)
    make_certs(state)
    tenant, client_id, secret = str(uuid.uuid4()), str(uuid.uuid4()), secrets.token_urlsafe(24)
    tokens: set = set()
    store = Store()
    holder = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.command, self.path))

        def _go(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            hdrs = {k.lower(): v for k, v in self.headers.items()}
            if self.path == f"/{tenant}/oauth2/v2.0/token" and self.command == "POST":
                form = dict(parse_qsl(raw.decode()))
                if form.get("client_id") != client_id or form.get("client_secret") != secret:
                    return self._send(Resp(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}))
                tok = secrets.token_urlsafe(32)
                tokens.add(tok)
                return self._send(Resp(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": tok}))
            if hdrs.get("authorization", "")[7:] not in tokens:
                return self._send(Resp(401, {"error": {"code": "0x80072560", "message": "Unauthorized"}}, {"WWW-Authenticate": "Bearer"}))
            self._send(holder["svc"].handle(self.command, self.path, hdrs, raw))

        def _send(self, r: Resp):
            if isinstance(r.body, bytes):
                data = r.body
            elif r.body is not None:
                data = json.dumps(r.body, ensure_ascii=False).encode("utf-8")
                r.headers.setdefault("Content-Type", "application/json; odata.metadata=minimal")
            else:
                data = b""
            self.send_response(r.status)
            for k, v in r.headers.items():
                self.send_header(k, v)
            self.send_header("OData-Version", "4.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _go

    server = ThreadingHTTPServer((host, int(port)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(state / "server.pem", state / "server.key")
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    base = f"https://{host}:{server.server_address[1]}"
    holder["svc"] = Service(base, store, tokens)
    info = {"org_url": base, "authority_url": base, "tenant_id": tenant, "client_id": client_id, "client_secret": secret, "ca_cert": str(state / "ca.pem")}
    (state / "emulator.json.tmp").write_text(json.dumps(info))
    (state / "emulator.json.tmp").rename(state / "emulator.json")
    server.serve_forever()


if __name__ == "__main__":
    main()

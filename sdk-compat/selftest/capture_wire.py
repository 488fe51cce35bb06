"""Prints the exact HTTP requests the unmodified SDK sends, by replacing the `requests` transport
(HTTPAdapter.send) with canned Dataverse-like answers. This is how the examples in WIRE.md were captured.

Usage: <venv>/bin/python sdk-compat/selftest/capture_wire.py > wire.txt   (no network needed)
"""
import json, re, uuid
import requests
from requests.adapters import HTTPAdapter
from requests.models import Response
from azure.core.credentials import AccessToken
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.models.upsert import UpsertItem

ORG = "https://127.0.0.1:8443"
API = ORG + "/api/data/v9.2"
LOG = []

class Cred:
    def get_token(self, *scopes, **kw):
        LOG.append(("get_token", scopes, kw))
        return AccessToken("tok", 9999999999)
    def get_token_info(self, *scopes, options=None):
        return None

def mk(status, body=None, headers=None, raw=None):
    r = Response()
    r.status_code = status
    if raw is not None:
        r._content = raw.encode()
    elif body is not None:
        r._content = json.dumps(body).encode()
        r.headers["Content-Type"] = "application/json; odata.metadata=minimal"
    else:
        r._content = b""
    for k, v in (headers or {}).items():
        r.headers[k] = v
    return r

ENT = {
 "account": dict(MetadataId="70816501-edb9-4740-a16c-6a5efbc05d84", LogicalName="account", SchemaName="Account", EntitySetName="accounts", PrimaryIdAttribute="accountid", PrimaryNameAttribute="name"),
 "new_widget": dict(MetadataId="11111111-2222-3333-4444-555555555555", LogicalName="new_widget", SchemaName="new_Widget", EntitySetName="new_widgets", PrimaryIdAttribute="new_widgetid", PrimaryNameAttribute="new_name"),
}
CREATED = set()
NEWID = "00000000-0000-0000-0000-0000000000aa"
page = {"n": 0}

def route(req):
    u = requests.utils.unquote(req.url)
    m = re.search(r"LogicalName eq '([^']+)'", u.replace("+", " "))
    if "/EntityDefinitions?" in u or "/EntityDefinitions?" in req.url:
        if m and "/Attributes" not in u:
            name = m.group(1)
            if name in ENT and (name != "new_widget" or name in CREATED):
                return mk(200, {"value": [ENT[name]]})
            return mk(200, {"value": []})
        return mk(200, {"value": list(ENT.values())})
    if "PicklistAttributeMetadata" in u:
        return mk(200, {"value": [{"LogicalName": "industrycode", "MetadataId": "x", "OptionSet": {"Options": [{"Value": 1, "Label": {"LocalizedLabels": [{"Label": "Accounting", "LanguageCode": 1033}]}}]}}]})
    if u.endswith("/CreateEntities") or "/CreateEntities?" in u:
        CREATED.add("new_widget")
        return mk(200, {"@odata.context": API + "/$metadata#Microsoft.Dynamics.CRM.CreateEntitiesResponse"})
    if "/Keys" in u and req.method == "POST":
        return mk(204, headers={"OData-EntityId": API + "/EntityDefinitions(LogicalName='new_widget')/Keys(99999999-0000-0000-0000-000000000001)"})
    if "/Keys" in u and req.method == "GET":
        return mk(200, {"value": [{"MetadataId": "99999999-0000-0000-0000-000000000001", "SchemaName": "new_code_key", "KeyAttributes": ["new_code"], "EntityKeyIndexStatus": "Active"}]})
    if "/Attributes" in u and req.method == "GET":
        return mk(200, {"value": [{"MetadataId": "aaaaaaaa-0000-0000-0000-000000000001", "LogicalName": "new_code", "SchemaName": "new_Code", "@odata.type": "#Microsoft.Dynamics.CRM.StringAttributeMetadata", "AttributeType": "String"}]})
    if "$batch" in u:
        b = "batchresponse_" + str(uuid.uuid4())
        cs = "changesetresponse_" + str(uuid.uuid4())
        body = (f"--{b}\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n"
                f"--{cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
                f"HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\nLocation: {API}/accounts({NEWID})\r\nOData-EntityId: {API}/accounts({NEWID})\r\n\r\n\r\n"
                f"--{cs}--\r\n"
                f"--{b}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n"
                + json.dumps({"@odata.context": "x", "accountid": NEWID, "name": "n"}) + "\r\n"
                f"--{b}--\r\n")
        return mk(200, raw=body, headers={"Content-Type": f"multipart/mixed; boundary={b}"})
    if req.method == "POST" and "Microsoft.Dynamics.CRM.CreateMultiple" in u:
        return mk(200, {"@odata.context": API + "/$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse", "Ids": [NEWID, NEWID]})
    if req.method == "POST" and ("Multiple" in u):
        return mk(200, {"Ids": [NEWID]})
    if req.method == "POST":
        return mk(204, headers={"OData-EntityId": f"{API}/accounts({NEWID})"})
    if req.method in ("PATCH", "DELETE", "PUT"):
        return mk(204)
    if req.method == "GET" and re.search(r"/accounts\([0-9a-f-]{36}\)", u):
        return mk(200, {"@odata.context": "x", "@odata.etag": "W/\"123\"", "accountid": NEWID, "name": "O'Brien"})
    if req.method == "GET":
        page["n"] += 1
        body = {"@odata.context": "x", "value": [{"@odata.etag": "W/\"1\"", "accountid": str(uuid.uuid4()), "name": "a"}]}
        if page["n"] == 1:
            body["@odata.count"] = 2
            body["@odata.nextLink"] = API + "/accounts?$select=name&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E"
        return mk(200, body)
    return mk(404, {"error": {"code": "0x80060888", "message": "not routed"}})

def fake_send(self, request, **kw):
    LOG.append(("http", request, kw))
    resp = route(request)
    resp.request = request
    resp.url = request.url
    return resp
HTTPAdapter.send = fake_send

def show(title):
    print(f"\n### {title}\n```")
    for e in LOG:
        if e[0] == "get_token":
            print(f"(credential.get_token{e[1]!r} kwargs={e[2]!r})")
            continue
        _, r, kw = e
        print(f"{r.method} {r.url}")
        for k, v in r.headers.items():
            if k.lower() in ("x-ms-client-request-id", "x-ms-correlation-id", "user-agent", "accept-encoding", "connection", "content-length"):
                v = "<" + k + ">" if k.lower() != "user-agent" else v
            print(f"  {k}: {v}")
        print(f"  (timeout={kw.get('timeout')}, verify={kw.get('verify')})")
        if r.body:
            b = r.body.decode() if isinstance(r.body, bytes) else r.body
            print("  body: " + b.replace("\r\n", "\\r\\n\n        "))
    print("```")
    LOG.clear()

c = DataverseClient(ORG, Cred())
rid = c.records.create("account", {"Name": "O'Brien Café", "industrycode": "Accounting", "telephone1": "555"}); show("records.create(account, dict)")
c.records.create("account", {"name": "second"}); show("records.create second call (cached entity set, picklist cache)")
c.records.retrieve("account", rid, select=["Name", "telephone1"], include_annotations="*"); show("records.retrieve(select, include_annotations)")
c.records.update("account", rid, {"telephone1": "556"}); show("records.update(single)")
c.records.update("account", [rid, rid], {"telephone1": "557"}); show("records.update(list) -> UpdateMultiple")
c.records.delete("account", rid); show("records.delete(single)")
c.records.delete("account", [rid, rid]); show("records.delete(list) -> BulkDelete")
c.records.delete("account", [rid], use_bulk_delete=False); show("records.delete(list, use_bulk_delete=False)")
list(c.records.list("account", select=["Name"], filter="name eq 'O''Brien' and statecode eq 0", orderby=["Name desc"], top=10, page_size=5, count=True, include_annotations="OData.Community.Display.V1.FormattedValue")); show("records.list(all options) incl. nextLink follow")
page["n"] = 0
c.records.create("account", [{"name": "a"}, {"name": "b"}]); show("records.create(list) -> CreateMultiple")
c.records.upsert("account", [UpsertItem(alternate_key={"accountnumber": "AC'1"}, record={"name": "x"})]); show("records.upsert(1 item) -> PATCH alt key")
c.records.upsert("account", [UpsertItem(alternate_key={"accountnumber": "A1", "address1_postalcode": 75001}, record={"name": "x"}), {"alternate_key": {"accountnumber": "A2"}, "record": {"name": "y"}}]); show("records.upsert(n items) -> UpsertMultiple")
b = c.batch.new()
with b.changeset() as cs:
    ref = cs.records.create("account", {"name": "in cs"})
    cs.records.update("account", ref, {"telephone1": "1"})
    cs.records.delete("account", rid)
b.records.retrieve("account", rid, select=["name"])
b.records.list("account", select=["name"], filter="name eq 'x y'", top=3, page_size=2, count=True)
b.records.update("account", rid, {"name": "u"})
b.records.create("account", [{"name": "m1"}])
res = b.execute(continue_on_error=True); show("batch with changeset + continue_on_error")
print("parsed:", res)
t = c.tables.create("new_Widget", {"new_Code": "string", "new_Qty": "int", "new_Price": "decimal", "new_Done": "bool", "new_When": "datetime", "new_Notes": "memo", "new_Ratio": "float"}, solution="MySolution"); show("tables.create")
print("TableInfo:", t)
c.tables.get("new_Widget"); show("tables.get")
c.tables.list(); show("tables.list")
c.tables.add_columns("new_Widget", {"new_Extra": "string"}); show("tables.add_columns")
k = c.tables.create_alternate_key("new_Widget", "new_code_key", ["new_code"]); show("tables.create_alternate_key"); print(k)
c.tables.get_alternate_keys("new_Widget"); show("tables.get_alternate_keys")
c.tables.remove_columns("new_Widget", ["new_Code"]); show("tables.remove_columns")
c.tables.list_columns("new_Widget", select=["LogicalName"], filter="AttributeType eq 'String'"); show("tables.list_columns")
c.tables.delete_alternate_key("new_Widget", "99999999-0000-0000-0000-000000000001"); show("tables.delete_alternate_key")
c.tables.delete("new_Widget"); show("tables.delete")
with DataverseClient(ORG, Cred()) as c2:
    c2.records.create("account", {"name": "ctx"}); show("context manager session (same wire)")

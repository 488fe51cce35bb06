"""Microsoft's Dataverse Python SDK (PowerPlatform-Dataverse-Client 1.1.0), unmodified, against the
leadbridge emulator. Every assertion is about an outcome a Dataverse user would see: the row read
back, the count, the rollback. Where SDK and emulator disagree, the SDK is right (see WIRE.md).
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Dict, Iterator, List

import pytest
import requests

from PowerPlatform.Dataverse import col
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError, MetadataError
from PowerPlatform.Dataverse.models.upsert import UpsertItem

from conftest import Emulator, EmulatorCredential

FORMATTED = "OData.Community.Display.V1.FormattedValue"


def quoted(value: str) -> str:
    """An OData string literal."""
    return "'" + value.replace("'", "''") + "'"


def ids_of(records, key: str) -> List[str]:
    return [r[key] for r in records]


def delete_quietly(client: DataverseClient, table: str, ids) -> None:
    for rid in ids:
        try:
            client.records.delete(table, rid)
        except HttpError as err:
            if err.status_code != 404:
                raise


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- auth


def test_token_endpoint_issues_bearer_tokens_and_rejects_a_bad_secret(emulator: Emulator):
    scope = f"{emulator.org_url.rstrip('/')}/.default"
    good = requests.post(
        emulator.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "scope": scope,
        },
        timeout=30,
    )
    assert good.status_code == 200, good.text
    body = good.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"]
    assert int(body["expires_in"]) > 60

    bad = requests.post(
        emulator.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret + "-wrong",
            "scope": scope,
        },
        timeout=30,
    )
    assert bad.status_code in (400, 401), bad.text
    assert bad.json()["error"] == "invalid_client"


def test_web_api_rejects_requests_without_a_token(emulator: Emulator):
    resp = requests.get(f"{emulator.api}/accounts?$top=1", headers={"Accept": "application/json"}, timeout=30)
    assert resp.status_code == 401


def test_sdk_asks_for_the_org_default_scope(client: DataverseClient, credential: EmulatorCredential, emulator: Emulator):
    assert client.tables.get("account") is not None
    assert f"{emulator.org_url.rstrip('/')}/.default" in credential.requested_scopes


# --------------------------------------------------------------------------- records: account, contact


def test_account_crud_with_apostrophe_and_accents(client: DataverseClient, uniq):
    name = f"O'Brien & Søn — Café Zürich {uniq('acct')}"
    account_id = client.records.create("account", {"name": name, "telephone1": "+33 1 23 45 67 89", "websiteurl": "https://obrien.example"})
    assert is_guid(account_id)
    try:
        got = client.records.retrieve("account", account_id)
        assert got is not None
        assert got["name"] == name
        assert got["telephone1"] == "+33 1 23 45 67 89"
        assert got["accountid"] == account_id

        narrow = client.records.retrieve("account", account_id, select=["name"])
        assert narrow["name"] == name
        assert "websiteurl" not in narrow, "$select must limit the columns returned"

        by_name = client.records.list("account", filter=f"name eq {quoted(name)}", select=["name"])
        assert ids_of(by_name, "accountid") == [account_id]

        client.records.update("account", account_id, {"telephone1": "+44 20 7946 0000", "name": name + " Ltd"})
        again = client.records.retrieve("account", account_id, select=["name", "telephone1"])
        assert again["telephone1"] == "+44 20 7946 0000"
        assert again["name"] == name + " Ltd"
        assert len(client.records.list("account", filter=f"name eq {quoted(name)}")) == 0

        client.records.delete("account", account_id)
        assert client.records.retrieve("account", account_id) is None
        with pytest.raises(HttpError) as err:
            client.records.update("account", account_id, {"telephone1": "1"})
        assert err.value.status_code == 404, "If-Match: * on a deleted row must not recreate it"
        assert client.records.retrieve("account", account_id) is None
    finally:
        delete_quietly(client, "account", [account_id])


def test_contact_crud_with_lookup_bind(client: DataverseClient, uniq):
    last = f"D'Añjou-Ñúñez {uniq('ct')}"
    account_id = client.records.create("account", {"name": f"Parent of {last}"})
    contact_id = None
    try:
        contact_id = client.records.create(
            "contact",
            {
                "firstname": "Zoë",
                "lastname": last,
                "emailaddress1": "zoe.danjou@example.com",
                "parentcustomerid_account@odata.bind": f"/accounts({account_id})",
            },
        )
        got = client.records.retrieve("contact", contact_id)
        assert got["firstname"] == "Zoë"
        assert got["lastname"] == last
        assert got["emailaddress1"] == "zoe.danjou@example.com"
        assert got["_parentcustomerid_value"] == account_id

        client.records.update("contact", contact_id, {"jobtitle": "Directrice générale"})
        rows = client.records.list("contact", filter=f"lastname eq {quoted(last)}", select=["jobtitle", "firstname"])
        assert len(rows) == 1
        assert rows[0]["contactid"] == contact_id
        assert rows[0]["jobtitle"] == "Directrice générale"

        client.records.delete("contact", contact_id)
        assert client.records.retrieve("contact", contact_id) is None
        assert len(client.records.list("contact", filter=f"lastname eq {quoted(last)}")) == 0
    finally:
        delete_quietly(client, "contact", [contact_id] if contact_id else [])
        delete_quietly(client, "account", [account_id])


def test_unknown_column_is_a_400_with_a_service_error(client: DataverseClient, uniq):
    name = uniq("bad")
    with pytest.raises(HttpError) as err:
        client.records.create("account", {"name": name, "nosuchcolumn_xyz": "x"})
    assert err.value.status_code == 400
    assert err.value.message and err.value.message != "HTTP 400", "the error body must carry error.message"
    assert account_ids_named(client, name) == []


def test_unknown_table_is_a_metadata_error(fresh_client: DataverseClient):
    with pytest.raises(MetadataError):
        fresh_client.records.create("new_nosuchtable", {"new_name": "x"})
    assert fresh_client.tables.get("new_nosuchtable") is None


# --------------------------------------------------------------------------- annotations and choices


def test_formatted_values_only_when_asked(client: DataverseClient, uniq):
    account_id = client.records.create("account", {"name": uniq("fmt"), "industrycode": 1})
    try:
        plain = client.records.retrieve("account", account_id, select=["name", "industrycode"])
        assert plain["industrycode"] == 1
        assert f"industrycode@{FORMATTED}" not in plain

        annotated = client.records.retrieve("account", account_id, select=["name", "industrycode"], include_annotations=FORMATTED)
        assert annotated[f"industrycode@{FORMATTED}"] == "Accounting"

        listed = client.records.list("account", filter=f"accountid eq {account_id}", select=["industrycode"], include_annotations="*")
        assert listed[0][f"industrycode@{FORMATTED}"] == "Accounting"
    finally:
        delete_quietly(client, "account", [account_id])


def test_choice_label_is_sent_as_its_value(client: DataverseClient, uniq):
    # The SDK looks up the table's choice columns (PicklistAttributeMetadata) and replaces a
    # label written as a string with the option's number before sending.
    account_id = client.records.create("account", {"name": uniq("label"), "industrycode": "Accounting"})
    try:
        assert client.records.retrieve("account", account_id, select=["industrycode"])["industrycode"] == 1
    finally:
        delete_quietly(client, "account", [account_id])


# --------------------------------------------------------------------------- queries and paging


@pytest.mark.parametrize("table,key", [("account", "accountid"), ("contact", "contactid")])
def test_paging_over_seeded_rows_sees_every_row_once(client: DataverseClient, table: str, key: str):
    everything = ids_of(client.records.list(table, select=[key]), key)
    assert len(everything) >= 20, f"the small seed should hold a few hundred {table} rows"
    assert len(set(everything)) == len(everything)

    page_size = max(2, len(everything) // 4)
    pages = [ids_of(page, key) for page in client.records.list_pages(table, select=[key], page_size=page_size)]
    assert len(pages) == math.ceil(len(everything) / page_size)
    assert all(0 < len(p) <= page_size for p in pages)
    seen = [rid for p in pages for rid in p]
    assert len(seen) == len(set(seen)), "a row came back on two pages"
    assert set(seen) == set(everything)


@pytest.fixture
def pager_contacts(client: DataverseClient, uniq) -> Iterator[Dict[str, object]]:
    last = uniq("Pager")
    names = [f"P{i:02d}" for i in range(23)]
    ids = client.records.create("contact", [{"firstname": n, "lastname": last} for n in names])
    try:
        yield {"lastname": last, "ids": ids, "names": names}
    finally:
        delete_quietly(client, "contact", ids)


def test_create_multiple_returns_ids_in_input_order(client: DataverseClient, pager_contacts):
    ids = pager_contacts["ids"]
    assert len(ids) == 23
    assert len(set(ids)) == 23 and all(is_guid(i) for i in ids)
    for rid, name in zip(ids, pager_contacts["names"]):
        assert client.records.retrieve("contact", rid, select=["firstname"])["firstname"] == name


def test_filter_paging_select_orderby_top_count(client: DataverseClient, pager_contacts):
    last_filter = f"lastname eq {quoted(pager_contacts['lastname'])}"

    pages = list(client.records.list_pages("contact", filter=last_filter, select=["firstname"], page_size=5, count=True))
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    seen = [r["contactid"] for p in pages for r in p]
    assert sorted(seen) == sorted(pager_contacts["ids"])
    first = pages[0][0]
    assert "firstname" in first and "lastname" not in first, "$select must limit the columns returned"

    desc = client.records.list("contact", filter=last_filter, select=["firstname"], orderby=["firstname desc"], page_size=4)
    assert [r["firstname"] for r in desc] == sorted(pager_contacts["names"], reverse=True)

    top = client.records.list("contact", filter=last_filter, select=["firstname"], orderby=["firstname asc"], top=7)
    assert [r["firstname"] for r in top] == pager_contacts["names"][:7]

    teens = client.records.list("contact", filter=f"{last_filter} and startswith(firstname,'P1')", select=["firstname"])
    assert sorted(r["firstname"] for r in teens) == [f"P1{i}" for i in range(10)]

    built = (
        client.query.builder("contact")
        .select("firstname")
        .where(col("lastname") == pager_contacts["lastname"])
        .where(col("firstname").in_(["P03", "P04", "P20"]))
        .order_by("firstname", descending=True)
        .execute()
    )
    assert [r["firstname"] for r in built] == ["P20", "P04", "P03"]


def test_update_multiple_broadcast_and_per_row(client: DataverseClient, pager_contacts):
    ids = pager_contacts["ids"][:3]
    client.records.update("contact", ids, {"jobtitle": "Buyer"})
    assert [client.records.retrieve("contact", i, select=["jobtitle"])["jobtitle"] for i in ids] == ["Buyer"] * 3

    client.records.update("contact", ids, [{"jobtitle": "CEO"}, {"jobtitle": "CFO"}, {"jobtitle": "CTO"}])
    assert [client.records.retrieve("contact", i, select=["jobtitle"])["jobtitle"] for i in ids] == ["CEO", "CFO", "CTO"]
    untouched = client.records.retrieve("contact", pager_contacts["ids"][3], select=["jobtitle"])
    assert untouched.get("jobtitle") is None


# --------------------------------------------------------------------------- $batch


def account_ids_named(client: DataverseClient, name: str) -> List[str]:
    return ids_of(client.records.list("account", filter=f"name eq {quoted(name)}", select=["name"]), "accountid")


def test_batch_changeset_commits_with_content_id_reference(client: DataverseClient, uniq):
    name = uniq("cs-ok")
    batch = client.batch.new()
    with batch.changeset() as cs:
        ref = cs.records.create("account", {"name": name})
        cs.records.update("account", ref, {"telephone1": "0102030405"})
    result = batch.execute()
    created = account_ids_named(client, name)
    try:
        assert not result.has_errors, result
        assert len(result.responses) == 2
        assert len(created) == 1
        assert set(result.entity_ids) == {created[0]}
        assert client.records.retrieve("account", created[0], select=["telephone1"])["telephone1"] == "0102030405"
    finally:
        delete_quietly(client, "account", created)


def test_batch_changeset_is_atomic(client: DataverseClient, uniq):
    keeper_name = uniq("cs-keeper")
    keeper = client.records.create("account", {"name": keeper_name, "telephone1": "original"})
    doomed = uniq("cs-doomed")
    missing = str(uuid.uuid4())
    try:
        batch = client.batch.new()
        with batch.changeset() as cs:
            cs.records.update("account", keeper, {"telephone1": "changed"})
            cs.records.create("account", {"name": doomed})
            cs.records.update("account", missing, {"telephone1": "x"})
        result = batch.execute()
        assert result.has_errors
        assert any(r.status_code == 404 for r in result.failed)
        assert all(r.error_message for r in result.failed)
        assert account_ids_named(client, doomed) == [], "the create inside the failed change set must be rolled back"
        assert client.records.retrieve("account", keeper, select=["telephone1"])["telephone1"] == "original"
    finally:
        delete_quietly(client, "account", [keeper] + account_ids_named(client, doomed))


def test_batch_stops_at_first_failure_without_continue_on_error(client: DataverseClient, uniq):
    before, after = uniq("stop-before"), uniq("stop-after")
    batch = client.batch.new()
    batch.records.create("account", {"name": before})
    batch.records.update("account", str(uuid.uuid4()), {"telephone1": "x"})
    batch.records.create("account", {"name": after})
    result = batch.execute()
    try:
        # Microsoft's batch doc only shows the failing part in this case; whether the earlier
        # success is echoed is not documented, so both shapes are accepted. Nothing may follow it.
        assert [r.status_code for r in result.responses] in ([404], [204, 404])
        assert len(account_ids_named(client, before)) == 1, "parts before the failure stay committed"
        assert account_ids_named(client, after) == [], "nothing after the failure may run"
    finally:
        delete_quietly(client, "account", account_ids_named(client, before) + account_ids_named(client, after))


def test_batch_continue_on_error_runs_every_part(client: DataverseClient, uniq):
    before, after = uniq("coe-before"), uniq("coe-after")
    batch = client.batch.new()
    batch.records.create("account", {"name": before})
    batch.records.update("account", str(uuid.uuid4()), {"telephone1": "x"})
    batch.records.create("account", {"name": after})
    result = batch.execute(continue_on_error=True)
    try:
        assert [r.status_code for r in result.responses] == [204, 404, 204]
        assert result.failed[0].error_code
        assert len(account_ids_named(client, before)) == 1
        assert len(account_ids_named(client, after)) == 1
        assert sorted(result.entity_ids) == sorted(account_ids_named(client, before) + account_ids_named(client, after))
    finally:
        delete_quietly(client, "account", account_ids_named(client, before) + account_ids_named(client, after))


def test_batch_reads(client: DataverseClient, pager_contacts):
    target = pager_contacts["ids"][0]
    batch = client.batch.new()
    batch.records.retrieve("contact", target, select=["firstname"])
    batch.records.list("contact", filter=f"lastname eq {quoted(pager_contacts['lastname'])}", select=["firstname"], top=5)
    result = batch.execute()
    assert [r.status_code for r in result.responses] == [200, 200]
    assert result.responses[0].data["firstname"] == "P00"
    assert len(result.responses[1].data["value"]) == 5


# --------------------------------------------------------------------------- custom table, alternate keys, upsert


def wait_for_active_key(client: DataverseClient, table: str, key_schema: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        keys = {k.schema_name: k for k in client.tables.get_alternate_keys(table)}
        if key_schema in keys:
            status = keys[key_schema].status
            if status == "Active":
                return
            assert status != "Failed", f"alternate key {key_schema} failed to build"
        time.sleep(1)
    raise AssertionError(f"alternate key {key_schema} not Active after {timeout}s (last status {status!r})")


@pytest.fixture(scope="module")
def widget_table(client: DataverseClient, run_id: str) -> Iterator[Dict[str, str]]:
    """A custom table with an alternate key on new_code, created and deleted through the SDK."""
    # The name ends in a plain noun so that Dataverse's plural (the entity set name) is just "+s".
    schema = f"new_Sdk{run_id}Widget"
    info = client.tables.create(schema, {"new_Code": "string", "new_Qty": "int", "new_Price": "decimal", "new_Done": "bool"})
    try:
        key = client.tables.create_alternate_key(schema, "new_CodeKey", ["new_code"])
        assert is_guid(key.metadata_id)
        wait_for_active_key(client, schema, "new_CodeKey")
        yield {"schema": schema, "logical": info.logical_name, "pk": info.primary_id_attribute}
    finally:
        client.tables.delete(schema)


def test_custom_table_metadata_follows_dataverse_conventions(client: DataverseClient, widget_table):
    info = client.tables.get(widget_table["schema"])
    assert info is not None
    logical = widget_table["schema"].lower()
    assert info.logical_name == logical
    assert info.schema_name == widget_table["schema"]
    assert info.entity_set_name == logical + "s"
    assert info.primary_id_attribute == logical + "id"
    assert info.primary_name_attribute == "new_name"
    assert is_guid(info.metadata_id)

    columns = {c["LogicalName"] for c in client.tables.list_columns(widget_table["schema"], select=["LogicalName"])}
    assert {"new_name", "new_code", "new_qty", "new_price", "new_done", logical + "id"} <= columns

    keys = client.tables.get_alternate_keys(widget_table["schema"])
    assert [(k.schema_name, k.key_attributes, k.status) for k in keys] == [("new_CodeKey", ["new_code"], "Active")]

    listed = {t["LogicalName"] for t in client.tables.list(select=["LogicalName", "EntitySetName"])}
    assert {"account", "contact", logical} <= listed


def test_custom_table_record_crud(client: DataverseClient, widget_table, uniq):
    table = widget_table["schema"]
    name = f"Widget « Été » {uniq('w')}"
    rid = client.records.create(table, {"new_Name": name, "new_Code": uniq("code"), "new_Qty": 7, "new_Price": 12.5, "new_Done": True})
    try:
        got = client.records.retrieve(table, rid)
        assert got["new_name"] == name
        assert got["new_qty"] == 7
        assert float(got["new_price"]) == 12.5
        assert got["new_done"] is True
        assert got[widget_table["pk"]] == rid

        client.records.update(table, rid, {"new_Qty": 8, "new_Done": False})
        got = client.records.retrieve(table, rid, select=["new_qty", "new_done"])
        assert (got["new_qty"], got["new_done"]) == (8, False)

        rows = client.records.list(table, filter="new_qty ge 8 and new_done eq false", select=["new_name"])
        assert rid in ids_of(rows, widget_table["pk"])

        client.records.delete(table, rid)
        assert client.records.retrieve(table, rid) is None
    finally:
        delete_quietly(client, table, [rid])


def widgets_with_code(client: DataverseClient, widget_table, code: str):
    return client.records.list(
        widget_table["schema"], filter=f"new_code eq {quoted(code)}", select=["new_code", "new_name", "new_qty"]
    )


def test_alternate_key_upsert_creates_then_updates(client: DataverseClient, widget_table, uniq):
    table = widget_table["schema"]
    code = f"K'é {uniq('up')}"
    client.records.upsert(table, [UpsertItem(alternate_key={"new_code": code}, record={"new_name": "first", "new_qty": 1})])
    rows = widgets_with_code(client, widget_table, code)
    try:
        assert len(rows) == 1
        assert (rows[0]["new_code"], rows[0]["new_name"], rows[0]["new_qty"]) == (code, "first", 1)
        first_id = rows[0][widget_table["pk"]]

        client.records.upsert(table, [{"alternate_key": {"new_code": code}, "record": {"new_qty": 2}}])
        rows = widgets_with_code(client, widget_table, code)
        assert len(rows) == 1, "upsert on an existing key must update, not insert"
        assert rows[0][widget_table["pk"]] == first_id
        assert (rows[0]["new_name"], rows[0]["new_qty"]) == ("first", 2)
    finally:
        delete_quietly(client, table, ids_of(widgets_with_code(client, widget_table, code), widget_table["pk"]))


def test_alternate_key_is_unique(client: DataverseClient, widget_table, uniq):
    table = widget_table["schema"]
    code = uniq("dup")
    first = client.records.create(table, {"new_name": "one", "new_code": code})
    try:
        with pytest.raises(HttpError) as err:
            client.records.create(table, {"new_name": "two", "new_code": code})
        assert err.value.status_code in (400, 409, 412)
        assert len(widgets_with_code(client, widget_table, code)) == 1
    finally:
        delete_quietly(client, table, [first])


def test_upsert_multiple_mixes_inserts_and_updates(client: DataverseClient, widget_table, uniq):
    table = widget_table["schema"]
    existing, new_a, new_b = uniq("um-old"), uniq("um-a"), uniq("um-b")
    old_id = client.records.create(table, {"new_name": "old", "new_code": existing, "new_qty": 1})
    try:
        client.records.upsert(
            table,
            [
                UpsertItem(alternate_key={"new_code": existing}, record={"new_qty": 10}),
                UpsertItem(alternate_key={"new_code": new_a}, record={"new_name": "a", "new_qty": 20}),
                UpsertItem(alternate_key={"new_code": new_b}, record={"new_name": "b", "new_qty": 30}),
            ],
        )
        old_rows = widgets_with_code(client, widget_table, existing)
        assert [(r[widget_table["pk"]], r["new_name"], r["new_qty"]) for r in old_rows] == [(old_id, "old", 10)]
        for code, name, qty in ((new_a, "a", 20), (new_b, "b", 30)):
            rows = widgets_with_code(client, widget_table, code)
            assert [(r["new_code"], r["new_name"], r["new_qty"]) for r in rows] == [(code, name, qty)]
    finally:
        for code in (existing, new_a, new_b):
            delete_quietly(client, table, ids_of(widgets_with_code(client, widget_table, code), widget_table["pk"]))


def test_custom_table_lifecycle(client: DataverseClient, emulator: Emulator, credential: EmulatorCredential, run_id: str):
    schema = f"new_Sdk{run_id}Item"
    logical = schema.lower()
    info = client.tables.create(schema, {"new_Label": "string"}, display_name="SDK temp table")
    try:
        assert info.logical_name == logical
        assert info.entity_set_name == logical + "s"
        assert info.columns_created == ["new_Label"]
        with pytest.raises(MetadataError):
            client.tables.create(schema, {"new_Label": "string"})

        assert client.tables.add_columns(schema, {"new_Score": "int", "new_Notes": "memo"}) == ["new_Score", "new_Notes"]
        rid = client.records.create(schema, {"new_name": "row", "new_label": "l", "new_score": 3, "new_notes": "line1\nline2"})
        got = client.records.retrieve(schema, rid)
        assert (got["new_label"], got["new_score"], got["new_notes"]) == ("l", 3, "line1\nline2")

        assert client.tables.remove_columns(schema, ["new_Notes"]) == ["new_Notes"]
        columns = {c["LogicalName"] for c in client.tables.list_columns(schema, select=["LogicalName"])}
        assert "new_notes" not in columns and "new_score" in columns
        assert "new_notes" not in client.records.retrieve(schema, rid)
    finally:
        client.tables.delete(schema)

    assert client.tables.get(schema) is None
    with DataverseClient(emulator.org_url, credential) as fresh:
        with pytest.raises(MetadataError):
            fresh.records.list(schema)
    resp = requests.get(
        f"{emulator.api}/{info.entity_set_name}",
        headers={"Authorization": f"Bearer {credential.get_token(emulator.org_url.rstrip('/') + '/.default').token}", "Accept": "application/json"},
        timeout=30,
    )
    assert resp.status_code == 404

"""Seed 002's users module, workspaces, members and invitations against the real pipeline.

A database of its own: these tests give the owner more workspaces and change the
profile of people whom other test modules share the default database with.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from conftest import Processes, wait_for
from pipeline import (
    add_person,
    assert_secrets_nowhere,
    isolated_settings,
    login,
    running_pipeline,
    wait_status,
)

from infra.settings import Settings

V1 = "/api/v1"
SECRETS: list[str] = []


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    return await isolated_settings(services)


@pytest_asyncio.fixture(scope="module")
async def pipeline(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, str, Processes]]:
    procs = Processes(settings, log_dir=tmp_path_factory.mktemp("people-logs"))
    try:
        async with running_pipeline(settings, procs) as (client, workspace_id):
            yield client, workspace_id, procs
    finally:
        procs.stop_all()


def email_of(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:6]}@fluxo.test"


async def test_profile_and_preferences(pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings) -> None:
    api, ws, _ = pipeline
    profile = (await api.get(f"{V1}/users/profile")).json()
    assert profile["email"] == settings.admin_email and profile["role"] == "owner"
    assert profile["workspace"]["id"] == ws and profile["timezone"] == "UTC"
    assert profile["avatar_color"].startswith("#") and len(profile["avatar_color"]) == 7  # a palette colour

    r = await api.put(f"{V1}/users/profile", json={"first_name": "Ada", "last_name": "Lovelace",
                                                   "avatar_color": "#7C3AED", "timezone": "Europe/Paris"})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["first_name"], changed["full_name"], changed["initials"]) == ("Ada", "Ada Lovelace", "AL")
    assert changed["avatar_color"] == "#7C3AED" and changed["timezone"] == "Europe/Paris"
    r = await api.put(f"{V1}/users/profile", json={"job_title": "Engineer"})
    assert r.json()["first_name"] == "Ada" and r.json()["job_title"] == "Engineer"  # the rest kept
    assert (await api.get(f"{V1}/users/profile")).json() == r.json()

    for body, field in (({"avatar_color": "purple"}, "avatar_color"), ({"timezone": "Mars/Base"}, "timezone"),
                        ({"first_name": "x" * 101}, "first_name"), ({"email": "a@b.c"}, "email")):
        r = await api.put(f"{V1}/users/profile", json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)

    prefs = (await api.get(f"{V1}/users/preferences")).json()
    assert prefs["theme"] == "system" and prefs["notifications"]["email"] is True and prefs["dashboard_layout"] == {}
    r = await api.put(f"{V1}/users/preferences", json={
        "theme": "dark", "notifications": {"weekly_summary": True},
        "dashboard_layout": {"widgets": [{"id": "executions", "x": 0, "y": 0, "w": 6}]},
    })
    assert r.status_code == 200, r.text
    prefs = r.json()
    assert prefs["theme"] == "dark" and prefs["language"] == "en"
    assert prefs["notifications"] == {"email": True, "in_app": True, "execution_failures": True,
                                      "weekly_summary": True, "product_updates": False}
    assert prefs["dashboard_layout"]["widgets"][0]["id"] == "executions"
    assert (await api.get(f"{V1}/users/preferences")).json() == prefs
    for body, field in (({"theme": "neon"}, "theme"), ({"notifications": {"sms": True}}, "notifications.sms"),
                        ({"dashboard_layout": {"x": "y" * 20_000}}, "dashboard_layout")):
        r = await api.put(f"{V1}/users/preferences", json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)

    # A viewer has a profile of their own, and an API key cannot edit a person's.
    viewer = email_of("viewer")
    await add_person(settings, workspace_id=ws, email=viewer, role="viewer")
    as_viewer = await login(api, viewer)
    r = await api.put(f"{V1}/users/profile", json={"first_name": "Vic"}, headers=as_viewer)
    assert r.status_code == 200 and r.json()["email"] == viewer and r.json()["first_name"] == "Vic"
    assert (await api.get(f"{V1}/users/profile")).json()["first_name"] == "Ada"
    key = (await api.post(f"{V1}/api-keys", json={"name": "k"})).json()["key"]
    SECRETS.append(key)
    async with httpx.AsyncClient(base_url=str(api.base_url)) as machine:
        r = await machine.put(f"{V1}/users/preferences", json={"theme": "light"}, headers={"X-API-Key": key})
        assert r.status_code == 403
        assert (await machine.get(f"{V1}/users/preferences", headers={"X-API-Key": key})).json()["theme"] == "dark"


async def test_trial_info_counts_this_months_executions(pipeline: tuple[httpx.AsyncClient, str, Processes]) -> None:
    api, ws, _ = pipeline
    before = (await api.get(f"{V1}/users/trial-info")).json()
    assert before["plan"] == "trial" and before["is_trial"] is True and before["trial_expired"] is False
    assert before["monthly_execution_limit"] == 1000 and 13 <= before["days_left"] <= 14
    assert before["trial_ends_at"] and before["workspace"]["id"] == ws
    workflow = await api.post(f"{V1}/workflows", json={
        "name": "counted", "nodes": [
            {"id": "trigger", "node_type": "trigger"},
            {"id": "tag", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "seen"}}],
        "edges": [{"source_node": "trigger", "target_node": "tag"}],
    })
    assert workflow.status_code == 201, workflow.text
    run = await api.post(f"{V1}/workflows/{workflow.json()['id']}/execute", json={"input_data": {}})
    assert run.status_code == 202, run.text
    await wait_status(api, run.json()["execution_id"], "completed", "failed")
    after = (await api.get(f"{V1}/users/trial-info")).json()
    assert after["executions_used_this_month"] == before["executions_used_this_month"] + 1
    assert after["executions_remaining"] == 1000 - after["executions_used_this_month"]


async def test_workspaces_members_and_invitations(
    pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings
) -> None:
    api, home, _ = pipeline
    created = await api.post(f"{V1}/workspaces", json={"name": "Second"})
    assert created.status_code == 201, created.text
    second = created.json()
    assert second["role"] == "owner" and second["plan"] == "trial" and second["members_count"] == 1
    assert second["execution_limits"] == {"monthly_limit": 1000, "used_this_month": 0, "remaining": 1000}
    assert second["trial_info"]["is_trial"] is True and second["is_current"] is False
    listed = (await api.get(f"{V1}/workspaces")).json()
    assert {w["id"]: w["is_current"] for w in listed["results"]} == {home: True, second["id"]: False}

    # Members are managed where one is signed in: the second workspace needs a switch.
    assert (await api.get(f"{V1}/workspaces/{second['id']}/members")).status_code == 404
    switched = await api.post(f"{V1}/auth/switch-workspace", json={"workspace_id": second["id"]})
    assert switched.status_code == 200 and switched.json()["workspace_id"] == second["id"]
    there = {"Authorization": f"Bearer {switched.json()['access_token']}"}
    assert (await api.get(f"{V1}/workflows", headers=there)).json()["count"] == 0
    assert (await api.get(f"{V1}/workspaces/{home}/members", headers=there)).status_code == 404
    assert (await api.post(f"{V1}/auth/switch-workspace", json={"workspace_id": str(uuid.uuid4())})).status_code == 404
    r = await api.post(f"{V1}/auth/login", json={"email": settings.admin_email, "password": settings.admin_password,
                                                   "workspace_id": second["id"]})
    assert r.status_code == 200 and r.json()["workspace_id"] == second["id"]
    r = await api.post(f"{V1}/auth/refresh", json={"refresh_token": switched.json()["refresh_token"]})
    assert r.json()["workspace_id"] == second["id"]  # refreshing keeps the workspace

    # An existing person becomes a member at once.
    editor = email_of("editor")
    editor_id = await add_person(settings, workspace_id=home, email=editor, role="editor")
    r = await api.post(f"{V1}/workspaces/{second['id']}/members", json={"email": editor, "role": "viewer"}, headers=there)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "added" and r.json()["member"]["role"] == "viewer" and r.json()["invitation"] is None
    again = await api.post(f"{V1}/workspaces/{second['id']}/members", json={"email": editor}, headers=there)
    assert again.status_code == 409
    members = (await api.get(f"{V1}/workspaces/{second['id']}/members", headers=there)).json()
    assert {m["email"]: m["role"] for m in members["results"]} == {settings.admin_email: "owner", editor: "viewer"}
    as_editor = await login(api, editor, workspace_id=second["id"])
    assert (await api.get(f"{V1}/users/workspace-members", headers=as_editor)).json()["count"] == 2
    assert (await api.post(f"{V1}/workflows", json={"name": "no"}, headers=as_editor)).status_code == 403  # viewer there

    # Someone new gets an invitation; accepting it creates the account.
    newcomer = email_of("newcomer")
    r = await api.post(f"{V1}/workspaces/{second['id']}/members", json={"email": newcomer, "role": "admin"}, headers=there)
    assert r.status_code == 201 and r.json()["status"] == "invited", r.text
    invitation = r.json()["invitation"]
    token = invitation["token"]
    SECRETS.append(token)
    assert invitation["role"] == "admin" and invitation["accept_path"] == f"/api/v1/invitations/{token}/accept"
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        r = await anonymous.post(f"{V1}/invitations/{token}/accept", json={"password": "short"})
        assert r.status_code == 422 and "password" in r.json()["error"]["fields"]
        r = await anonymous.post(f"{V1}/invitations/fxi_{'x' * 43}/accept", json={"password": "long enough pw"})
        assert r.status_code == 404
        password = f"pw-{uuid.uuid4().hex}"
        SECRETS.append(password)
        accepted = await anonymous.post(f"{V1}/invitations/{token}/accept",
                                        json={"password": password, "first_name": "Nia"})
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["role"] == "admin" and accepted.json()["workspace_id"] == second["id"]
        as_newcomer = {"Authorization": f"Bearer {accepted.json()['access_token']}"}
        me = (await anonymous.get(f"{V1}/users/profile", headers=as_newcomer)).json()
        assert me["email"] == newcomer and me["first_name"] == "Nia" and me["role"] == "admin"
        assert (await anonymous.post(f"{V1}/invitations/{token}/accept", json={"password": password})).status_code == 404
    assert (await api.post(f"{V1}/auth/login", json={"email": newcomer, "password": password})).status_code == 200

    # An admin manages members but not owners.
    newcomer_id = me["id"]
    r = await api.post(f"{V1}/workspaces/{second['id']}/members", json={"email": email_of("x"), "role": "owner"},
                       headers=as_newcomer)
    assert r.status_code == 403 and "role" in r.json()["error"]["fields"]
    owner_id = (await api.get(f"{V1}/users/profile")).json()["id"]
    assert (await api.delete(f"{V1}/workspaces/{second['id']}/members/{owner_id}", headers=as_newcomer)).status_code == 403
    # Editors and viewers manage nobody.
    assert (await api.post(f"{V1}/workspaces/{second['id']}/members", json={"email": email_of("y")},
                           headers=as_editor)).status_code == 403
    assert (await api.delete(f"{V1}/workspaces/{second['id']}/members/{newcomer_id}", headers=as_editor)).status_code == 403
    # The last owner stays.
    r = await api.delete(f"{V1}/workspaces/{second['id']}/members/{owner_id}", headers=there)
    assert r.status_code == 409, r.text
    assert (await api.delete(f"{V1}/workspaces/{second['id']}/members/{uuid.uuid4()}", headers=there)).status_code == 404

    # A removed member's token stops working at once.
    assert (await api.get(f"{V1}/workflows", headers=as_editor)).status_code == 200
    r = await api.delete(f"{V1}/workspaces/{second['id']}/members/{editor_id}", headers=as_newcomer)
    assert r.status_code == 204, r.text
    assert (await api.get(f"{V1}/workflows", headers=as_editor)).status_code == 401
    # ... only there: they are still an editor at home.
    assert (await api.get(f"{V1}/workflows", headers=await login(api, editor))).status_code == 200
    members = (await api.get(f"{V1}/workspaces/{second['id']}/members", headers=there)).json()
    assert {m["email"] for m in members["results"]} == {settings.admin_email, newcomer}

    # Bad input: the field at fault.
    for body, field in (({"email": "not-an-email"}, "email"), ({"email": "a@b.co", "role": "boss"}, "role")):
        r = await api.post(f"{V1}/workspaces/{second['id']}/members", json=body, headers=there)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], r.text
    assert (await api.post(f"{V1}/workspaces", json={"name": ""})).status_code == 422
    # What PostgreSQL cannot store is refused up front, with the field at fault.
    r = await api.post(f"{V1}/workspaces", json={"name": "a\u0000b"})
    assert r.status_code == 422 and "name" in r.json()["error"]["fields"], r.text
    r = await api.put(f"{V1}/users/preferences", json={"dashboard_layout": {"w": ["\u0000"], "n": 2**70}})
    # The input guard names the exact place inside the layout.
    assert r.status_code == 422 and r.json()["error"]["fields"] == {
        "dashboard_layout.n": "integer out of range (64 bits)", "dashboard_layout.w.0": "contains a NUL character"}, r.text
    # A NUL in a path is refused before routing (api/limits.py InputGuard): the path is at fault.
    r = await api.delete(f"{V1}/workspaces/{second['id']}/members/a%00b", headers=there)
    assert r.status_code == 422 and r.json()["error"]["fields"] == {"path": "contains a NUL character"}, r.text
    r = await api.post(f"{V1}/auth/login", json={"email": "a\u0000@b.c", "password": "x"})
    assert r.status_code == 422 and "email" in r.json()["error"]["fields"], r.text


async def test_another_workspace_sees_none_of_it(pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings) -> None:
    api, home, _ = pipeline
    stranger = email_of("stranger")
    # A member of a workspace of their own only.
    other = (await api.post(f"{V1}/workspaces", json={"name": "Stranger's"})).json()
    await add_person(settings, workspace_id=other["id"], email=stranger, role="owner")
    theirs = await login(api, stranger)
    me = (await api.get(f"{V1}/users/profile")).json()
    for method, path, body in (
        ("GET", f"workspaces/{home}", None), ("GET", f"workspaces/{home}/members", None),
        ("POST", f"workspaces/{home}/members", {"email": email_of("z")}),
        ("DELETE", f"workspaces/{home}/members/{me['id']}", None),
    ):
        r = await api.request(method, f"{V1}/{path}", json=body, headers=theirs)
        assert r.status_code == 404, (method, path, r.text)
    listed = (await api.get(f"{V1}/workspaces", headers=theirs)).json()
    assert [w["id"] for w in listed["results"]] == [other["id"]]
    names = {m["email"] for m in (await api.get(f"{V1}/users/workspace-members", headers=theirs)).json()["results"]}
    assert settings.admin_email in names and stranger in names  # the owner created that workspace
    home_members = {m["email"] for m in (await api.get(f"{V1}/users/workspace-members")).json()["results"]}
    assert stranger not in home_members


async def test_a_members_role_changes_and_pending_invitations_are_listed(
    pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings
) -> None:
    """PATCH /workspaces/{id}/members/{user_id} with the rules of adding and removing, and
    GET /workspaces/{id}/invitations (issue 19, trust leftovers)."""
    api, home, _ = pipeline
    third = (await api.post(f"{V1}/workspaces", json={"name": "Third"})).json()
    switched = await api.post(f"{V1}/auth/switch-workspace", json={"workspace_id": third["id"]})
    there = {"Authorization": f"Bearer {switched.json()['access_token']}"}
    members_path = f"{V1}/workspaces/{third['id']}/members"
    owner_id = (await api.get(f"{V1}/users/profile")).json()["id"]

    person = email_of("promoted")
    person_id = await add_person(settings, workspace_id=home, email=person, role="editor")
    r = await api.post(members_path, json={"email": person, "role": "viewer"}, headers=there)
    assert r.status_code == 201 and r.json()["member"]["role"] == "viewer", r.text
    as_person = await login(api, person, workspace_id=third["id"])
    assert (await api.post(f"{V1}/workflows", json={"name": "no"}, headers=as_person)).status_code == 403

    # A viewer made an editor writes at once (the role is read from the current membership).
    r = await api.patch(f"{members_path}/{person_id}", json={"role": "editor"}, headers=there)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == person_id and r.json()["role"] == "editor" and r.json()["email"] == person
    members = (await api.get(members_path, headers=there)).json()
    assert {m["email"]: m["role"] for m in members["results"]} == {settings.admin_email: "owner", person: "editor"}
    created = await api.post(f"{V1}/workflows", json={"name": "by the promoted editor"}, headers=as_person)
    assert created.status_code == 201, created.text
    # The same role again changes nothing and answers the member.
    r = await api.patch(f"{members_path}/{person_id}", json={"role": "editor"}, headers=there)
    assert r.status_code == 200 and r.json()["role"] == "editor", r.text

    # Editors manage nobody; an admin neither grants nor takes away the owner role.
    r = await api.patch(f"{members_path}/{owner_id}", json={"role": "viewer"}, headers=as_person)
    assert r.status_code == 403, r.text
    admin = email_of("admin")
    await add_person(settings, workspace_id=home, email=admin, role="editor")
    assert (await api.post(members_path, json={"email": admin, "role": "admin"}, headers=there)).status_code == 201
    as_admin = await login(api, admin, workspace_id=third["id"])
    r = await api.patch(f"{members_path}/{person_id}", json={"role": "owner"}, headers=as_admin)
    assert r.status_code == 403 and "role" in r.json()["error"]["fields"], r.text
    r = await api.patch(f"{members_path}/{owner_id}", json={"role": "admin"}, headers=as_admin)
    assert r.status_code == 403 and "role" in r.json()["error"]["fields"], r.text
    r = await api.patch(f"{members_path}/{person_id}", json={"role": "viewer"}, headers=as_admin)
    assert r.status_code == 200 and r.json()["role"] == "viewer", r.text

    # The last owner cannot be demoted; with a second owner they can.
    r = await api.patch(f"{members_path}/{owner_id}", json={"role": "admin"}, headers=there)
    assert r.status_code == 409 and "user_id" in r.json()["error"]["fields"], r.text
    r = await api.patch(f"{members_path}/{person_id}", json={"role": "owner"}, headers=there)
    assert r.status_code == 200 and r.json()["role"] == "owner", r.text
    as_second_owner = await login(api, person, workspace_id=third["id"])
    r = await api.patch(f"{members_path}/{owner_id}", json={"role": "admin"}, headers=as_second_owner)
    assert r.status_code == 200 and r.json()["role"] == "admin", r.text
    r = await api.patch(f"{members_path}/{owner_id}", json={"role": "owner"}, headers=as_second_owner)
    assert r.status_code == 200 and r.json()["role"] == "owner", r.text
    there = await login(api, settings.admin_email, settings.admin_password, workspace_id=third["id"])

    # Bad input, a stranger, another workspace.
    r = await api.patch(f"{members_path}/{person_id}", json={"role": "boss"}, headers=there)
    assert r.status_code == 422 and "role" in r.json()["error"]["fields"], r.text
    r = await api.patch(f"{members_path}/{person_id}", json={}, headers=there)
    assert r.status_code == 422 and "role" in r.json()["error"]["fields"], r.text
    assert (await api.patch(f"{members_path}/{uuid.uuid4()}", json={"role": "viewer"}, headers=there)).status_code == 404
    assert (await api.patch(f"{V1}/workspaces/{home}/members/{person_id}", json={"role": "viewer"},
                            headers=there)).status_code == 404

    # Pending invitations: the newest one per address, never a token, gone once accepted.
    invitations_path = f"{V1}/workspaces/{third['id']}/invitations"
    assert (await api.get(invitations_path, headers=there)).json()["count"] == 0
    first, second = email_of("invited"), email_of("reinvited")
    tokens: dict[str, str] = {}
    for email, role in ((first, "editor"), (second, "viewer"), (second, "admin")):
        r = await api.post(members_path, json={"email": email, "role": role}, headers=there)
        assert r.status_code == 201 and r.json()["status"] == "invited", r.text
        tokens[email] = r.json()["invitation"]["token"]
        SECRETS.append(tokens[email])
    listed = await api.get(invitations_path, headers=there)
    assert listed.status_code == 200, listed.text
    rows = listed.json()["results"]
    assert listed.json()["count"] == 2
    assert [(i["email"], i["role"]) for i in rows] == [(second, "admin"), (first, "editor")]  # newest first
    assert all(i["invited_by"] == owner_id and i["expires_at"] > i["created_at"] for i in rows)
    assert not any(t in listed.text for t in tokens.values()) and "token" not in rows[0]
    assert (await api.get(invitations_path, headers=as_admin)).status_code == 200
    assert (await api.get(invitations_path)).status_code == 404  # signed in to another workspace
    r = await api.patch(f"{members_path}/{person_id}", json={"role": "viewer"}, headers=there)
    assert r.status_code == 200
    as_viewer = await login(api, person, workspace_id=third["id"])
    assert (await api.get(invitations_path, headers=as_viewer)).status_code == 403
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        accepted = await anonymous.post(f"{V1}/invitations/{tokens[first]}/accept", json={"password": "long enough pw"})
        assert accepted.status_code == 201, accepted.text
    left = (await api.get(invitations_path, headers=there)).json()
    assert [i["email"] for i in left["results"]] == [second]

    # Each role change is audited, under one stable action name.
    async def audited() -> list[dict[str, object]] | None:
        page = (await api.get(f"{V1}/audit-logs", headers=there,
                              params={"action": "workspaces.members.update", "page_size": 100})).json()
        rows = [e for e in page.get("results", []) if e["resource_id"] == person_id and e["status_code"] == 200]
        return rows if len(rows) >= 5 else None

    entries = await wait_for(audited, timeout=60, interval=0.2, what="the role changes audited")
    assert all(e["changed_fields"] == ["role"] for e in entries)


@pytest.mark.process_logs
async def test_no_token_or_password_in_any_topic_or_log(
    pipeline: tuple[httpx.AsyncClient, str, Processes], settings: Settings
) -> None:
    """Last in the module: it stops the processes to read their logs."""
    _, _, procs = pipeline
    assert len(SECRETS) >= 3
    await assert_secrets_nowhere(settings, procs, SECRETS)


pytestmark = pytest.mark.asyncio(loop_scope="session")


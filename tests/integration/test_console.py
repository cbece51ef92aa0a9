# ruff: noqa: F811 - pytest fixtures imported by name
"""The console (issue 21) in a real browser (Debian's chromium through Playwright) against the
running pipeline: sign in; build a workflow in the editor (a trigger, a condition and an HTTP
node, added and connected there); activate it; an event sent through the API shows up in the
executions list without a reload, its page highlights the path; a failed one is retried from
its failed node; a viewer sees no edit controls. Screenshots of the main pages go to
docs/console/ (the README shows them)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest_asyncio
from browser import LAUNCH_ARGS, ensure_chromium, ensure_console_built
from conftest import wait_for
from pipeline import Sink, add_person, api, sink, wait_status  # noqa: F401 - fixtures
from playwright.async_api import Browser, Page, async_playwright, expect

from infra.settings import Settings

SHARE_PIPELINE = True
V1 = "/api/v1"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
# Generous: two cores shared by a whole suite (the assertions wait, they do not loosen).
WAIT_MS = 30_000
expect.set_options(timeout=WAIT_MS)


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = ensure_chromium()
    ensure_console_built()
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=str(executable), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def signed_in(browser: Browser, base: str, email: str, password: str) -> Page:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(f"{base}/console")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    return page


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.wait_for_timeout(300)  # let React Flow finish its fit-view transition
    await page.screenshot(path=str(SHOTS / f"{name}.png"))


async def add_node(page: Page, kind: str, name: str) -> None:
    """Add a node from the palette; the editor selects it and opens its panel."""
    await page.get_by_role("toolbar", name="Add a node").get_by_role("button", name=f"Add {kind}", exact=True).click()
    panel = page.locator("aside.panel")
    await expect(panel.locator("h2")).to_contain_text(kind, ignore_case=True)
    await panel.get_by_label("Name", exact=True).fill(name)


async def save_node(page: Page) -> None:
    panel = page.locator("aside.panel")
    name = await panel.get_by_label("Name", exact=True).input_value()
    await panel.get_by_role("button", name="Save node").click()
    # Saved through the nodes API: the graph redrawn from /graph shows the new name.
    await expect(page.locator(".fx-node .fx-name", has_text=name)).to_have_count(1)
    await expect(page.locator(".fault")).to_have_count(0)


async def select_node(page: Page, name: str) -> None:
    await page.locator(".fx-node", has_text=name).click()
    await expect(page.locator("aside.panel").get_by_label("Name", exact=True)).to_have_value(name)


async def connect(page: Page, source: str, target: str, label: str = "") -> None:
    await select_node(page, source)
    edges = await page.locator(".react-flow__edge").count()
    form = page.get_by_role("form", name="Connect")
    await form.get_by_label("Target node").select_option(label=target)
    if label:
        await form.get_by_label("Label").select_option(label)
    await form.get_by_role("button", name="Add edge").click()
    # Saved through the edges API: the graph redrawn from /graph has one edge more.
    await expect(page.locator(".react-flow__edge")).to_have_count(edges + 1)


async def test_build_run_watch_and_retry_in_the_console(
    api: httpx.AsyncClient, settings: Settings, sink: Sink, browser: Browser
) -> None:
    base = str(api.base_url).rstrip("/")
    tag = uuid.uuid4().hex[:6]
    event_type = f"CONSOLE_{tag.upper()}"
    name = f"Console {tag}"
    page = await signed_in(browser, base, settings.admin_email, settings.admin_password)

    # -- build it in the editor -----------------------------------------------------------
    await page.get_by_role("button", name="New workflow").click()
    form = page.get_by_role("form", name="New workflow")
    await form.get_by_label("Name").fill(name)
    await form.get_by_label("Event type").fill(event_type)
    await form.get_by_role("button", name="Create workflow").click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()
    await expect(page.get_by_text("No nodes yet")).to_be_visible()

    await add_node(page, "trigger", "Order placed")
    await save_node(page)
    await add_node(page, "condition", "Is pro")
    # The form is generated from /nodes/config-schema/condition.
    await page.locator("aside.panel").get_by_label("Condition", exact=False).first.fill('event.data.plan == "pro"')
    await save_node(page)
    await add_node(page, "http request", "Notify CRM")
    panel = page.locator("aside.panel")
    await panel.get_by_label("Url").fill(sink.url("/crm"))
    await panel.get_by_label("Method").select_option("POST")
    # The raw JSON mode shows the same config, and its edits are what is saved.
    await panel.get_by_role("button", name="Raw JSON").click()
    raw = panel.locator("textarea[name=raw-config]")
    await expect(raw).to_contain_text(sink.url("/crm"))
    await raw.fill(orjson_text({"action_type": "http_request", "url": sink.url("/crm"), "method": "POST",
                                "payload": {"plan": "{{event.data.plan}}"}}))
    await save_node(page)

    await connect(page, "Order placed", "Is pro")
    await connect(page, "Is pro", "Notify CRM", "true")
    await expect(page.locator(".react-flow__edge")).to_have_count(2)
    validation = page.get_by_role("region", name="Validation")
    await expect(validation).to_have_attribute("data-valid", "true")
    await page.get_by_role("button", name="Activate").click()
    await expect(page.locator(".page-head .status")).to_have_text("active")
    await page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    await shot(page, "editor")
    # A dry run highlights the path it would take.
    await page.get_by_label("Input JSON").fill('{"plan": "pro"}')
    await page.get_by_role("button", name="Dry run").click()
    await expect(page.locator("p.dry")).to_be_visible()
    await expect(page.locator(".fx-node", has_text="Order placed")).to_have_attribute("data-on-path", "true")
    # Every change was a new version; an old one is shown read only, from its own snapshot.
    versions = page.get_by_label("Version")
    assert await versions.locator("option").count() >= 7  # created, 3 nodes, 3 saves, 2 edges, activation
    await versions.select_option("1")
    await expect(page.get_by_text("No nodes yet")).to_be_visible()
    await expect(page.get_by_role("toolbar", name="Add a node")).to_have_count(0)
    await versions.select_option(index=0)
    await expect(page.get_by_role("toolbar", name="Add a node")).to_be_visible()

    workflow = await api.get(f"{V1}/workflows", params={"search": name})
    (saved,) = workflow.json()["results"]
    detail = (await api.get(f"{V1}/workflows/{saved['id']}")).json()
    by_name = {n["name"]: n for n in detail["nodes"]}
    assert {n["node_type"] for n in detail["nodes"]} == {"trigger", "condition", "http_request"}
    assert by_name["Notify CRM"]["config"]["payload"] == {"plan": "{{event.data.plan}}"}
    assert sorted((e["source_node"], e["target_node"], e["label"]) for e in detail["edges"]) == sorted([
        (by_name["Order placed"]["id"], by_name["Is pro"]["id"], None),
        (by_name["Is pro"]["id"], by_name["Notify CRM"]["id"], "true")])

    # -- an event through the API shows up live -------------------------------------------
    await page.get_by_role("link", name="Executions", exact=True).first.click()
    await expect(page.get_by_role("status").filter(has_text="live")).to_be_visible()
    sent = await api.post(f"{V1}/triggers/process_event", json={
        "event_type": event_type, "user_id": f"u-{tag}", "data": {"plan": "pro"}})
    assert sent.status_code == 202, sent.text
    row = page.locator("tr[data-execution]", has_text=name)
    await expect(row).to_have_count(1)
    await expect(row).to_have_attribute("data-status", "completed")
    await shot(page, "executions")
    await row.get_by_role("link").first.click()
    await expect(page.locator(".execution-page")).to_have_attribute("data-status", "completed")
    for node in ("Order placed", "Is pro", "Notify CRM"):
        await expect(page.locator(".fx-node", has_text=node)).to_have_attribute("data-on-path", "true")
    await expect(page.locator(".react-flow__edge.on-path")).to_have_count(2)
    await expect(page.locator("tr[data-step]")).to_have_count(3)
    await shot(page, "execution")
    assert [c.body for c in sink.to("/crm")] == [{"plan": "pro"}]

    # -- one fails, and is retried from the failed node -----------------------------------
    sink.script["/crm"] = [400]
    await page.get_by_role("link", name="Executions", exact=True).first.click()
    await expect(page.get_by_role("status").filter(has_text="live")).to_be_visible()
    sent = await api.post(f"{V1}/triggers/process_event", json={
        "event_type": event_type, "user_id": f"v-{tag}", "data": {"plan": "pro"}})
    assert sent.status_code == 202, sent.text
    failed_row = page.locator("tr[data-execution][data-status=failed]", has_text=name)
    await expect(failed_row).to_have_count(1)
    await failed_row.get_by_role("link").first.click()
    await expect(page.locator(".execution-page")).to_have_attribute("data-status", "failed")
    crm = page.locator(".fx-node", has_text="Notify CRM")
    await expect(crm).to_have_attribute("data-failed", "true")
    await expect(page.locator(".fx-node", has_text="Is pro")).to_have_attribute("data-failed", "false")
    await expect(page.locator("tr[data-step][data-status=failed]")).to_contain_text("Notify CRM")
    await shot(page, "execution-failed")
    await page.get_by_role("button", name="Retry from").click()
    notice = page.locator("p.notice")
    await expect(notice).to_contain_text(by_name["Notify CRM"]["id"])
    await notice.get_by_role("link").click()
    await expect(page.locator(".execution-page")).to_have_attribute("data-status", "completed")
    await expect(page.locator("dl.facts")).to_contain_text("Retry of")
    retried = page.url.rsplit("/", 1)[1]
    retry = await wait_status(api, retried, "completed")
    assert retry["resume_from"] == by_name["Notify CRM"]["id"], retry
    assert len(sink.to("/crm")) == 3  # the first run, the failed call, the retry's

    # -- the other main pages ---------------------------------------------------------------
    await page.get_by_role("link", name="Workflows", exact=True).click()
    wf_row = page.locator("tr[data-workflow]", has_text=name)
    await expect(wf_row.locator(".status")).to_have_text("active")
    await expect(wf_row.locator("td.num").first).to_have_text("3")
    await expect(wf_row.locator("svg.sparkline")).to_be_visible()
    await shot(page, "workflows")
    await page.get_by_role("link", name="Dashboard", exact=True).click()
    await expect(page.get_by_text("Recent executions")).to_be_visible()
    await shot(page, "dashboard")
    await page.get_by_role("link", name="Health", exact=True).click()
    await expect(page.get_by_role("table", name="Processors")).to_contain_text("executor")
    await shot(page, "health")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await page.context.close()


async def test_a_viewer_sees_no_edit_controls(
    api: httpx.AsyncClient, settings: Settings, sink: Sink, browser: Browser
) -> None:
    base = str(api.base_url).rstrip("/")
    sink.script["/down"] = [400]
    created = await api.post(f"{V1}/workflows", json={
        "name": f"Viewed {uuid.uuid4().hex[:6]}", "trigger_type": "manual",
        "nodes": [{"id": "trigger", "name": "Start", "node_type": "trigger"},
                  {"id": "call", "name": "Call out", "node_type": "http_request", "config": {"url": sink.url("/down")}}],
        "edges": [{"source_node": "trigger", "target_node": "call"}]})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    assert (await api.post(f"{V1}/workflows/{workflow_id}/activate")).status_code == 200
    run = await api.post(f"{V1}/workflows/{workflow_id}/execute", json={"input_data": {}})
    failed = await wait_status(api, run.json()["execution_id"], "failed")
    email = f"viewer-{uuid.uuid4().hex[:6]}@fluxo.test"
    workspace_id = (await api.get(f"{V1}/users/profile")).json()["workspace"]["id"]
    await add_person(settings, workspace_id=workspace_id, email=email, role="viewer", password="viewer-password-1")

    page = await signed_in(browser, base, email, "viewer-password-1")
    await expect(page.locator("span.who")).to_have_attribute("data-role", "viewer")
    await expect(page.locator(f"tr[data-workflow='{workflow_id}']")).to_be_visible()
    await expect(page.get_by_role("button", name="New workflow")).to_have_count(0)
    for label in ("Activate", "Pause", "Archive"):
        await expect(page.get_by_role("button", name=label)).to_have_count(0)
    await page.locator(f"tr[data-workflow='{workflow_id}']").get_by_role("link").click()
    await expect(page.locator(".fx-node", has_text="Call out")).to_be_visible()
    await expect(page.get_by_role("toolbar", name="Add a node")).to_have_count(0)
    await page.locator(".fx-node", has_text="Call out").click()
    panel = page.locator("aside.panel")
    await expect(panel.locator("pre.json")).to_contain_text(sink.url("/down"))
    for label in ("Save node", "Delete node", "Add edge", "Run now", "Activate", "Pause", "Archive"):
        await expect(page.get_by_role("button", name=label)).to_have_count(0)
    await expect(page.get_by_role("form", name="Connect")).to_have_count(0)
    await shot(page, "viewer")
    # The failed execution: marked, but neither cancel nor retry is offered to a viewer.
    await page.evaluate(f"window.location.hash = '#/executions/{failed['id']}'")
    await expect(page.locator(".execution-page")).to_have_attribute("data-status", "failed")
    await expect(page.locator(".fx-node", has_text="Call out")).to_have_attribute("data-failed", "true")
    for label in ("Cancel", "Retry from"):
        await expect(page.get_by_role("button", name=label)).to_have_count(0)
    await page.context.close()


def orjson_text(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


async def test_the_graph_moves_connects_deletes_and_a_run_is_cancelled(
    api: httpx.AsyncClient, settings: Settings, browser: Browser
) -> None:
    """The graph's own gestures, saved through the nodes and edges API: drag a node, drag from a
    handle to another node, Delete the selection; and a waiting execution cancelled."""
    base = str(api.base_url).rstrip("/")
    created = await api.post(f"{V1}/workflows", json={
        "name": f"Gestures {uuid.uuid4().hex[:6]}", "trigger_type": "manual",
        "nodes": [{"id": "trigger", "name": "Start", "node_type": "trigger", "position": {"x": 40, "y": 40}},
                  {"id": "wait", "name": "Wait", "node_type": "delay", "config": {"delay_seconds": 300},
                   "position": {"x": 340, "y": 40}},
                  {"id": "spare", "name": "Spare", "node_type": "action", "config": {"action_type": "add_tag", "tag_name": "x"},
                   "position": {"x": 340, "y": 240}}],
        "edges": [{"source_node": "trigger", "target_node": "wait"}]})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    page = await signed_in(browser, base, settings.admin_email, settings.admin_password)
    await page.evaluate(f"window.location.hash = '#/workflows/{workflow_id}'")
    spare = page.locator(".react-flow__node", has_text="Spare")
    await expect(spare).to_be_visible()

    async def node_of(node_id: str) -> dict[str, object]:
        detail = (await api.get(f"{V1}/workflows/{workflow_id}")).json()
        return next((n for n in detail["nodes"] if n["id"] == node_id), {})

    # Drag "Spare" by 120 px to the right: its new position is stored.
    box = await spare.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2, steps=5)
    await page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2, steps=5)
    await page.mouse.up()

    async def moved() -> bool:
        position = (await node_of("spare")).get("position") or {}
        return isinstance(position, dict) and position.get("x", 340) > 380

    await wait_for(moved, timeout=30, interval=0.2, what="the dragged node's position saved")

    # Drag from Wait's output handle onto Spare: an edge wait -> spare.
    await expect(page.locator(".react-flow__edge")).to_have_count(1)
    handle = page.locator(".react-flow__node", has_text="Wait").locator(".react-flow__handle.source")
    await handle.drag_to(page.locator(".react-flow__node", has_text="Spare").locator(".react-flow__handle.target"))
    await expect(page.locator(".react-flow__edge")).to_have_count(2)
    edges = (await api.get(f"{V1}/workflows/{workflow_id}")).json()["edges"]
    assert sorted((e["source_node"], e["target_node"]) for e in edges) == [("trigger", "wait"), ("wait", "spare")]

    # Select Spare and press Delete: the node and its edge are gone.
    await select_node(page, "Spare")
    await expect(page.locator(".react-flow__node.selected", has_text="Spare")).to_have_count(1)
    await page.keyboard.press("Delete")
    await expect(page.locator(".react-flow__node", has_text="Spare")).to_have_count(0)
    detail = (await api.get(f"{V1}/workflows/{workflow_id}")).json()
    assert [n["id"] for n in detail["nodes"]] == ["trigger", "wait"]
    assert [(e["source_node"], e["target_node"]) for e in detail["edges"]] == [("trigger", "wait")]

    # Activate, run with input JSON from the page, and cancel it while it waits.
    await page.get_by_role("button", name="Activate").click()
    await expect(page.locator(".page-head .status")).to_have_text("active")
    await page.get_by_label("Input JSON").fill('{"who": "console"}')
    await page.get_by_role("button", name="Run now").click()
    await page.get_by_role("region", name="Run").get_by_role("link").click()
    await expect(page.locator(".execution-page")).to_have_attribute("data-status", "running")
    await expect(page.locator(".fx-node", has_text="Start")).to_have_attribute("data-on-path", "true")
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.locator(".execution-page")).to_have_attribute("data-status", "cancelled")
    execution_id = page.url.rsplit("/", 1)[1]
    cancelled = await wait_status(api, execution_id, "cancelled")
    assert cancelled["input_data"] == {"who": "console"}, cancelled
    await page.context.close()

"""The analyst page in the browser: model versions with gate results, the backtest report
from the model card, promotion with a named approval (refusals shown as the API gives
them), and reviewer agreement rates.

Registry (as in tests/serve/test_api_models.py): v1's backtest passes every gate; v2's
calibration does not (ece 0.041 > 0.03).
"""

from __future__ import annotations

import os

import pytest

from tests.serve.api_seed import register_two_versions
from tests.serve.web.conftest import no_horizontal_scroll, shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_data_dir(tmp_path_factory):
    saved = os.environ.pop("RISK_MLFLOW_URI", None)
    data_dir = tmp_path_factory.mktemp("registry")
    register_two_versions(data_dir)
    yield data_dir
    if saved is not None:
        os.environ["RISK_MLFLOW_URI"] = saved


def loaded(page) -> None:
    page.wait_for_function("document.body.dataset.loaded === '1'")


def backtest_ready(page) -> None:
    page.locator("#backtest table").first.wait_for()


def versions(page) -> list[list[str]]:
    rows = page.locator("#versions tbody tr").all_inner_texts()
    return [[c.strip() for c in r.split("\t")] for r in rows]


def test_versions_gates_and_the_backtest_report(open_as):
    page = open_as("ana", "/analyst")
    loaded(page)
    rows = versions(page)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("v2", "候选模型", "✗ 1 项未通过"),
        ("v1", "", "✓ 全部通过"),
    ]
    # No champion yet: the newest version is shown.
    assert page.locator("#detail-heading").inner_text() == "版本 v2"
    gates = page.eval_on_selector_all(
        "#gates li", "ls => ls.map(l => [l.querySelector('strong').textContent, l.dataset.passed])"
    )
    assert gates == [
        ["baseline pr_auc [any]", "true"],
        ["baseline pei@5 [any]", "true"],
        ["grid_type miss_rate@10 [any]", "true"],
        ["calibration ece [any]", "false"],
        ["calibration by segment [any]", "true"],
    ]
    assert (
        page.locator("#promote-status").inner_text() == "此版本有未通过的门槛，服务器会拒绝上线。"
    )
    backtest_ready(page)
    overall = page.locator("#backtest table").first
    assert overall.locator("caption").inner_text() == "target any (base rate —)"
    models = overall.locator("tbody tr").evaluate_all("rs => rs.map(r => r.dataset.model)")
    assert models == ["lightgbm", "seppexp", "oracle"]
    main = overall.locator("tr.main-model td").all_inner_texts()
    # bad_ece(): GOOD's lightgbm with ece 0.041 (pr_auc 0.450, pei@5 0.520, miss 0.250).
    assert [main[i] for i in (0, 1, 3, 6, 8)] == ["lightgbm", "0.450", "0.520", "0.250", "0.041"]
    assert "pr_auc — PR 曲线下面积（平均精度），越高越好" in page.locator(".glossary").inner_text()
    # The card's other parts: one target only (nothing more to fold), 2 segment tables.
    assert page.locator("#backtest details.fold summary").all_inner_texts() == [
        "按网格类型（2 张表）"
    ]
    assert "null" not in page.locator("#backtest").inner_text()
    frame = page.locator("#card-frame")
    assert frame.get_attribute("sandbox") == ""
    assert "Model card — grid-risk v2" in frame.get_attribute("srcdoc")
    shot(page, "analyst_zh")


def test_choosing_another_version_shows_its_gates_and_card(open_as):
    page = open_as("ana", "/analyst")
    loaded(page)
    page.locator('#versions tr[data-version="1"] button').click()
    assert page.locator("#detail-heading").inner_text() == "版本 v1"
    assert page.locator('#gates li[data-passed="false"]').count() == 0
    assert page.locator("#promote-status").inner_text() == ""
    page.wait_for_function("document.getElementById('card-frame').srcdoc.includes('grid-risk v1')")
    assert page.locator('#versions tr[data-version="1"]').get_attribute("class") == "selected"


def test_reviewer_agreement_rates(open_as):
    # Decided items: approved_g1, approved_g3, approved_g4 (agreed as proposed) and
    # rejected_g2, all by rev on model m1: agree 3/4, adjusted 0, rejected 1/4.
    page = open_as("ana", "/analyst")
    loaded(page)
    for table in ("#agree-by-reviewer", "#agree-by-model"):
        cells = page.locator(f"{table} tbody tr td").all_inner_texts()
        assert [c.strip() for c in cells][1:] == ["4", "75%", "0%", "25%", "25%"]
    assert page.locator("#agree-by-reviewer tbody td").first.inner_text() == "rev"
    assert page.locator("#agree-by-model tbody td").first.inner_text() == "m1"


def test_the_form_asks_for_a_name_and_a_confirmation(open_as):
    page = open_as("adm", "/analyst")
    loaded(page)
    page.click("#promote-submit")
    assert page.locator("#promote-result").inner_text() == "请填写批准人账号。"
    page.fill("#approver", "Li Wei")
    page.click("#promote-submit")
    assert page.locator("#promote-result").inner_text() == "请勾选确认。"


def test_an_analyst_may_not_promote_and_is_told_why(open_as):
    page = open_as("ana", "/analyst")
    loaded(page)
    page.locator('#versions tr[data-version="1"] button').click()
    page.fill("#approver", "Li Wei")
    page.check("#confirm")
    page.click("#promote-submit")
    result = page.locator("#promote-result .alert")
    result.wait_for()
    assert result.inner_text() == "上线被拒绝：你的角色不能批准上线（只有管理员可以，四眼原则）。"


def test_the_analyst_page_in_english_and_on_a_phone(open_as):
    page = open_as("ana", "/analyst", lang="en")
    loaded(page)
    assert page.locator("#versions-heading").inner_text() == "Model versions"
    assert page.locator("#versions thead th").all_inner_texts()[:5] == [
        "Version", "Aliases", "Registered", "Gates", "Approved"
    ]  # fmt: skip
    assert (
        page.locator("#confirm-text")
        .inner_text()
        .startswith("I have read the backtest report and gate results of v2")
    )
    backtest_ready(page)
    shot(page, "analyst_en")
    page = open_as("ana", "/analyst", width=360)
    loaded(page)
    backtest_ready(page)
    assert no_horizontal_scroll(page)
    shot(page, "analyst_360_zh")


def test_an_admin_promotion_failing_a_gate_is_refused_then_a_good_one_succeeds(open_as):
    """Last in the module: it promotes v1."""
    page = open_as("adm", "/analyst")
    loaded(page)
    page.fill("#approver", "adm")  # the signed-in admin's account
    page.check("#confirm")
    page.click("#promote-submit")
    refused = page.locator("#promote-refused")
    refused.wait_for()
    assert refused.inner_text().split("\n") == [
        "上线被拒绝：以下门槛未通过。",
        "calibration ece [any] — ece 0.041 > 0.03",
    ]
    shot(page, "analyst_promotion_refused_zh")
    page.locator('#versions tr[data-version="1"] button').click()
    assert page.locator("#promote-result").inner_text() == ""  # v2's refusal stays with v2
    page.fill("#approver", "adm")  # the signed-in admin's account
    page.check("#confirm")
    page.click("#promote-submit")
    page.locator("#promote-result .alert-ok").wait_for()
    assert page.locator("#promote-result").inner_text() == "v1 已上线，批准人 adm。"
    v1 = page.locator('#versions tr[data-version="1"] td').all_inner_texts()
    assert v1[1] == "正式模型"
    assert v1[4].startswith("adm，")
    assert page.locator("#promote-fields").is_hidden()
    shot(page, "analyst_promoted_zh")
    page.reload()
    loaded(page)
    assert page.locator("#detail-heading").inner_text() == "版本 v1"  # the champion
    assert page.locator("#promote-status").inner_text().startswith("v1 已是正式模型，由 adm 于 ")

"""Nothing of a company is process-wide: two stores in one process each reach their own
database inside their units of work, and outside any unit of work (or any request) there is no
company to fall back on — the call fails at once instead of reaching the last one set up."""

from __future__ import annotations

import threading

import pytest

from handlers.current import current
from storage import Store
from storage import models as m


def _company(store: Store) -> str | None:
    with store.connection():
        row = m.Setting.get_or_none(m.Setting.key == "probe")
        return row.value if row else None


def test_two_stores_in_one_process_each_reach_their_own(tmp_path):
    a = Store(f"sqlite:///{tmp_path / 'a.db'}")
    b = Store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        with a.transaction():
            m.Setting.create(key="probe", value="a")
            with b.transaction():  # nested units of work of two companies
                m.Setting.create(key="probe", value="b")
            assert m.Setting.get(m.Setting.key == "probe").value == "a"
        seen = {}
        thread = threading.Thread(target=lambda: seen.update(b=_company(b)))
        thread.start()
        thread.join()
        assert (_company(a), seen["b"]) == ("a", "b")
    finally:
        a.close()
        b.close()


def test_a_model_outside_a_unit_of_work_is_refused(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with pytest.raises(RuntimeError, match="outside a unit of work"):
            m.Setting.select().count()
        with pytest.raises(TypeError):
            m.database_proxy.initialize(store.db)  # no process-wide binding to install
    finally:
        store.close()


def test_no_company_outside_a_request():
    with pytest.raises(RuntimeError, match="outside a request"):
        current()

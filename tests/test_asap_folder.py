"""Where the real-file tests find the raw ASAP performances: $TSM_ASAP_DATA for a clone that is not beside
../shared, else ../shared/data/asap; a folder named there but not holding them fails, not skips."""
from __future__ import annotations

import pytest

from conftest import ASAP_ENV, SHARED_ASAP, asap_folder, asap_rows, checked_asap_folder


def test_the_asap_folder_is_the_one_the_variable_names_else_beside_the_checkout(tmp_path, monkeypatch):
    """A clone elsewhere skipped every real test silently; $TSM_ASAP_DATA names the folder."""
    elsewhere = tmp_path / "asap"
    elsewhere.mkdir()
    (elsewhere / "metadata.csv").write_text("composer,midi_performance\nBach,Bach/Fugue/p1.mid\n")
    monkeypatch.setenv(ASAP_ENV, str(elsewhere))
    assert asap_folder() == checked_asap_folder() == elsewhere
    assert asap_rows() == [{"composer": "Bach", "midi_performance": "Bach/Fugue/p1.mid"}]
    monkeypatch.setenv(ASAP_ENV, str(tmp_path / "empty"))  # named, and not there: said, not passed over
    with pytest.raises(pytest.fail.Exception, match=f"{ASAP_ENV}=.*empty: no metadata.csv there"):
        checked_asap_folder()
    assert asap_rows() == []
    for unset in ("", None):  # unset or empty: beside the checkout, as before
        monkeypatch.setenv(ASAP_ENV, unset) if unset is not None else monkeypatch.delenv(ASAP_ENV)
        assert asap_folder() == SHARED_ASAP

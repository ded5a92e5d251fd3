"""Array backends (devices) come from plugins through ``solverhub_array_backends``; the host's
``"cpu"`` is NumPy. Unknown and unavailable devices are one clear error naming the device."""

from __future__ import annotations

import numpy as np
import pytest

import solverhub as sh
from solverhub.core.arrays import array_namespace, asarray_on
from solverhub.core.manager import get_plugin_manager


class _DevicePlugin:
    """A third-party plugin with one usable device (NumPy under another name) and one that
    cannot run here."""

    @sh.hookimpl
    def solverhub_array_backends(self):
        return [sh.ArrayBackend("numpy-xp", lambda: np, description="NumPy as a device (tests)"),
                sh.ArrayBackend("nogpu", lambda: pytest.fail("module() of an unavailable device"),
                                available=lambda: "no accelerator in this test")]


@pytest.fixture
def device_plugin():
    pm = get_plugin_manager()
    name = pm.register_plugin(_DevicePlugin(), name="test-devices")
    yield pm
    pm.unregister_plugin(name)


def test_cpu_is_numpy_without_any_plugin():
    assert array_namespace() is np
    assert array_namespace("cpu") is np
    assert array_namespace("CPU") is np


def test_unknown_device_is_one_clear_error():
    with pytest.raises(sh.UnavailableError, match=r"unknown device 'tpu9'.*known devices are cpu"):
        array_namespace("tpu9")


def test_plugin_device_is_found_and_unavailable_one_names_its_reason(device_plugin):
    assert array_namespace("numpy-xp") is np
    assert "numpy-xp" in device_plugin.array_backends()
    assert device_plugin.array_backends()["numpy-xp"].provider == "test-devices"
    with pytest.raises(sh.UnavailableError, match=r"device 'nogpu' is unavailable: no accelerator"):
        array_namespace("nogpu")


def test_a_device_name_registered_twice_is_refused_naming_both(device_plugin):
    class Again:
        @sh.hookimpl
        def solverhub_array_backends(self):
            return [sh.ArrayBackend("numpy-xp", lambda: np)]

    name = device_plugin.register_plugin(Again(), name="test-devices-again")
    try:
        with pytest.warns(UserWarning, match="numpy-xp"):
            backends = device_plugin.array_backends()
        assert backends["numpy-xp"].provider == "test-devices"
    finally:
        device_plugin.unregister_plugin(name)


def test_asarray_on_numpy_keeps_host_data():
    x = [1.0, 2.0]
    out = asarray_on(np, x, dtype=np.float64)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64

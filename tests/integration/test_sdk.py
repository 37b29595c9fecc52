"""The plugin SDK as a third party uses it: install sipwarden, build the
out-of-tree example plugin against the installed SDK with find_package,
and run the installed binary with it."""
import json
import os
import shutil
import subprocess
import tempfile

from harness import ROOT, HopTestCase, Sipwarden, message_request, status_of, header

BUILD = os.environ.get("SIPWARDEN_BUILD_DIR", os.path.join(ROOT, "build", "release"))


class OutOfTreePlugin(HopTestCase):
    def test_install_build_example_plugin_and_run_it(self):
        prefix = tempfile.mkdtemp(prefix="sipwarden-install-")
        build = tempfile.mkdtemp(prefix="sipwarden-plugin-")
        self.cleanups.append(lambda: shutil.rmtree(prefix, ignore_errors=True))
        self.cleanups.append(lambda: shutil.rmtree(build, ignore_errors=True))
        subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], check=True, capture_output=True, timeout=120)
        for path in ("bin/sipwarden", "etc/sipwarden/sipwarden.json", "include/sipwarden/plugin.h",
                     "lib/cmake/sipwarden/sipwarden-config.cmake"):
            self.assertTrue(os.path.exists(os.path.join(prefix, path)), path)
        self.assertFalse(os.path.exists(os.path.join(prefix, "lib/sipwarden/plugins/sipwarden_probe.so")),
                         "test plugins are not installed")
        subprocess.run(["cmake", "-S", os.path.join(ROOT, "examples", "plugin"), "-B", build,
                        f"-DCMAKE_PREFIX_PATH={prefix}"], check=True, capture_output=True, timeout=120)
        subprocess.run(["cmake", "--build", build], check=True, capture_output=True, timeout=300)
        self.assertTrue(os.path.exists(os.path.join(build, "sipwarden_deny_senders.so")))

        upstream = self.peer()
        config = json.dumps({"plugin_dirs": [build], "plugins": [
            {"plugin": "deny_senders", "senders": ["alice@example.com"], "reason": "Sender blocked"}]})
        warden = Sipwarden("--upstream", f"127.0.0.1:{upstream.port}", config=config,
                           binary=os.path.join(prefix, "bin", "sipwarden"))
        self.cleanups.append(warden.stop)
        warden.start()
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="sdk-1"), warden.port)
        answer = caller.recv()
        self.assertEqual(status_of(answer), (403, "Sender blocked"))
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "deny_senders: alice@example.com"')

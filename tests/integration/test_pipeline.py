"""The filter chain in the running hop: plugins loaded as modules, verdicts
and edits on the wire, fail modes, reload under SIPp load, and the
`policy test` and `check-config` commands."""
import json
import os
import subprocess
import tempfile
import threading
import time

from harness import (BINARY, ROOT, HopTestCase, Sipp, free_port, header, message_request, plugins_config, reply_to,
                     status_of)


class ChainOnTheWire(HopTestCase):
    def test_edits_reach_the_next_hop_and_the_response_comes_back_filtered(self):
        upstream = self.peer()
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}",
                          config=plugins_config({"plugin": "probe", "add_header": "X-Probe: on"}))
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="chain-1"), warden.port)
        forwarded = upstream.recv()
        self.assertEqual(header(forwarded, "X-Probe"), "on")
        upstream.send(reply_to(forwarded, 200, "OK"), warden.port)
        answer = caller.recv()
        self.assertEqual(status_of(answer)[0], 200)
        self.assertEqual(header(answer, "X-Probe-Response"), "on")

    def test_a_plugin_reply_is_sent_with_its_warning(self):
        upstream = self.peer()
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}",
                          config=plugins_config({"plugin": "probe", "action": "reply", "code": 403,
                                                 "reason": "Blocked by policy"}))
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="chain-2"), warden.port)
        answer = caller.recv()
        self.assertEqual(status_of(answer), (403, "Blocked by policy"))
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "probe"')
        self.assertIsNone(upstream.recv(timeout=0.3), "a blocked request is not forwarded")

    def test_fail_closed_answers_and_fail_open_passes(self):
        upstream = self.peer()
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=plugins_config(
            {"plugin": "probe", "methods": ["MESSAGE"], "action": "throw", "fail_mode": "closed", "fail_code": 500},
            {"plugin": "probe", "methods": ["OPTIONS"], "action": "error", "fail_mode": "open"}))
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="closed-1"), warden.port)
        self.assertEqual(status_of(caller.recv())[0], 500)
        options = message_request(caller.port, call_id="open-1").replace(b"MESSAGE sip:", b"OPTIONS sip:")
        options = options.replace(b"CSeq: 1 MESSAGE", b"CSeq: 1 OPTIONS")
        caller.send(options, warden.port)
        self.assertIsNotNone(upstream.recv(), "fail-open passes the request on")
        self.assertIn("probe", warden.output())

    def test_a_bad_plugin_config_stops_start_up_with_the_key(self):
        handle, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(handle, "w") as out:
            out.write(plugins_config({"plugin": "probe"}, {"plugin": "probe", "action": "explode"}))
        result = subprocess.run([BINARY, "run", "--config", path, "--listen", f"udp:127.0.0.1:{free_port()}"],
                                capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 1)
        self.assertIn("plugins[1].action: expected continue|reply|drop|error|throw", result.stderr)


class ReloadUnderLoad(HopTestCase):
    def test_sighup_swaps_the_chain_without_failing_a_transaction(self):
        handle, config_path = tempfile.mkstemp(suffix=".json")
        pid_file = config_path + ".pid"

        def write_config(text):
            with open(config_path, "w") as out:
                out.write(text)

        write_config(plugins_config({"plugin": "probe", "add_header": "X-Generation: 1"}, pid_file=pid_file))
        uas_port = free_port()
        self.sipp_background("uas_message.xml", port=uas_port)
        warden = self.hop("--config", config_path, "--upstream", f"127.0.0.1:{uas_port}")

        calls = 1500
        uac = Sipp("uac_message.xml", target=f"127.0.0.1:{warden.port}", calls=calls, rate=300)
        load = threading.Thread(target=uac.run, kwargs={"timeout": 120})
        load.start()
        time.sleep(1.0)
        generations = [
            plugins_config({"plugin": "probe", "add_header": "X-Generation: 2"},
                           {"plugin": "probe", "tag": "gen=2"}, pid_file=pid_file),
            '{"plugins": [ {"plugin": "probe", "action": "explode"} ]}',  # refused: the old chain stays
            plugins_config({"plugin": "probe", "add_header": "X-Generation: 3"}, pid_file=pid_file),
        ]
        for text in generations:
            write_config(text)
            reload = subprocess.run([BINARY, "reload", "--pid-file", pid_file], capture_output=True, text=True,
                                    timeout=10)
            self.assertEqual(reload.returncode, 0, reload.stderr)
            time.sleep(1.0)
        load.join(timeout=120)
        self.assertEqual(uac.count("Successful call"), calls, uac.output[-2000:])
        self.assertEqual(uac.count("Failed call"), 0)
        log = warden.output()
        self.assertEqual(log.count("filter chain rebuilt"), 2, log[-3000:])
        self.assertIn("reload failed, keeping the running chain: plugins[0].action", log)


class PolicyTestCommand(HopTestCase):
    def run_policy(self, *args):
        return subprocess.run([BINARY, "policy", "test", *args], capture_output=True, text=True, timeout=30)

    def test_prints_each_plugin_verdict_and_the_result(self):
        config = os.path.join(ROOT, "examples", "policy-demo.json")
        messages = os.path.join(ROOT, "examples", "messages")
        result = self.run_policy("--config", config, os.path.join(messages, "message-plain.sip"),
                                 os.path.join(messages, "call-invite.sip"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("probe: reply 488 (Not Acceptable Here)", result.stdout)
        self.assertIn("X-Sipwarden: inspected", result.stdout)
        self.assertIn("result: forward (edited by the filters)", result.stdout)

    def test_json_output_for_machines(self):
        config = os.path.join(ROOT, "examples", "policy-demo.json")
        messages = sorted(os.path.join(ROOT, "examples", "messages", name)
                          for name in os.listdir(os.path.join(ROOT, "examples", "messages")))
        result = self.run_policy("--json", "--config", config, *messages)
        self.assertEqual(result.returncode, 0, result.stderr)
        outcomes = {os.path.basename(item["file"]): item for item in json.loads(result.stdout)}
        self.assertEqual(outcomes["call-invite.sip"]["code"], 488)
        self.assertEqual(outcomes["message-with-urls.sip"]["result"], "forward")
        self.assertTrue(outcomes["message-with-urls.sip"]["edited"])


if __name__ == "__main__":
    import unittest
    unittest.main()

"""lua_policy through the real hop: the example policies' own case suites,
verdicts and edits on the wire, the instruction budget under the fail mode,
and a script edited (file watch) while SIPp keeps 300 msg/s flowing."""
import glob
import os
import shutil
import subprocess
import threading
import time

from harness import (BINARY, ROOT, HopTestCase, Sipp, free_port, header, message_request, reply_to, status_of,
                     write_file)

POLICIES = os.path.join(ROOT, "examples", "policies")


def policy_test(*args):
    return subprocess.run([BINARY, "policy", "test", *args], capture_output=True, text=True, timeout=30)


class ExamplePolicies(HopTestCase):
    def test_every_example_passes_its_cases(self):
        scripts = sorted(glob.glob(os.path.join(POLICIES, "*.lua")))
        self.assertGreaterEqual(len(scripts), 6)
        for script in scripts:
            cases = script[:-len(".lua")]
            with self.subTest(script=os.path.basename(script)):
                result = policy_test("--script", script, "--cases", cases)
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                count = len(glob.glob(os.path.join(cases, "*.sip")))
                self.assertIn(f"{count} of {count} cases passed", result.stdout)

    def test_a_wrong_expectation_fails_and_says_what_differed(self):
        cases = self.temp_dir("cases-")
        source = os.path.join(POLICIES, "ethical_wall")
        for name in os.listdir(source):
            shutil.copy(os.path.join(source, name), cases)
        with open(os.path.join(cases, "04-research-to-legal.expect"), "w") as out:
            out.write("verdict: reply 403\n")
        result = policy_test("--script", os.path.join(POLICIES, "ethical_wall.lua"), "--cases", cases)
        self.assertEqual(result.returncode, 1)
        self.assertIn("FAIL 04-research-to-legal.sip", result.stdout)
        self.assertIn("verdict is forward", result.stdout)
        self.assertIn("4 of 5 cases passed", result.stdout)


class ThroughTheHop(HopTestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.temp_dir("lua-")

    def test_verdicts_edits_and_the_budget_on_the_wire(self):
        looping = os.path.join(self.dir, "looping.lua")
        write_file(looping, 'function on_request(msg)\n  if msg:header("X-Loop") then while true do end end\nend\n')
        config = """{"plugins": [
          {"plugin": "lua_policy", "fail_mode": "closed", "fail_code": 503, "instruction_budget": 200000,
           "scripts": [{"file": "%s"}]},
          {"plugin": "lua_policy",
           "groups": {"research": ["sip:alice@example.com"], "trading": ["@trading.example.com"], "vip": []},
           "scripts": [{"file": "%s/ethical_wall.lua", "config": {"walls": [["research", "trading"]]}},
                       {"file": "%s/next_hop_header.lua", "config": {"groups_to_report": ["research"]}}]}
        ]}""" % (looping, POLICIES, POLICIES)
        upstream = self.peer()
        client = self.peer()
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=config)

        # alice (research) to bob@example.com: forwarded with the policy header
        client.send(message_request(client.port, call_id="lua-ok"), warden.port)
        forwarded = upstream.recv()
        self.assertIsNotNone(forwarded)
        self.assertEqual(header(forwarded, "X-Sipwarden-Policy"), "checked; sender-groups=research")
        upstream.send(reply_to(forwarded, 200, "OK"), warden.port)  # or the hop retransmits it
        self.assertEqual(status_of(client.recv())[0], 200)

        # alice to trading: 403 with the script's Warning, nothing forwarded
        walled = message_request(client.port, call_id="lua-wall").replace(
            b"To: <sip:bob@example.com>", b"To: <sip:tom@trading.example.com>")
        client.send(walled, warden.port)
        reply = client.recv()
        self.assertEqual(status_of(reply)[0], 403)
        self.assertIn("ethical_wall.lua: Ethical wall between research and trading", header(reply, "Warning"))
        late = upstream.recv(timeout=0.5)
        self.assertTrue(late is None or b"lua-wall" not in late, late)

        # an endless loop: the budget stops it, fail closed answers 503
        client.send(message_request(client.port, call_id="lua-loop", extra="X-Loop: 1\r\n"), warden.port)
        self.assertEqual(status_of(client.recv(timeout=5))[0], 503)
        # and the next message is unaffected
        client.send(message_request(client.port, call_id="lua-after"), warden.port)
        self.assertIsNotNone(upstream.recv())
        warden.stop()
        self.assertIn("instruction budget of 200000 exceeded", warden.output())
        self.assertIn("looping.lua:2:", warden.output())


class EditUnderLoad(HopTestCase):
    def test_editing_the_script_swaps_it_without_failing_a_transaction(self):
        directory = self.temp_dir("lua-")
        script = os.path.join(directory, "policy.lua")

        def generation(number):
            return ('function on_request(msg)\n'
                    f'  msg:set_header("X-Generation", "{number}")\n'
                    f'  if msg:header("X-Probe") then msg:reply(488, "Generation {number}") end\n'
                    'end\n')

        write_file(script, generation(1))
        config = '{"plugins": [{"plugin": "lua_policy", "scripts": [{"file": "%s"}]}]}' % script
        uas_port = free_port()
        self.sipp_background("uas_message.xml", port=uas_port)
        warden = self.hop("--upstream", f"127.0.0.1:{uas_port}", config=config)

        calls = 1500
        uac = Sipp("uac_message.xml", target=f"127.0.0.1:{warden.port}", calls=calls, rate=300)
        load = threading.Thread(target=uac.run, kwargs={"timeout": 120})
        load.start()
        time.sleep(1.0)
        for text in (generation(2), "function on_request(msg)\n  if then end\nend\n", generation(3)):
            write_file(script, text)
            time.sleep(1.6)  # the watch looks once a second
        load.join(timeout=120)
        self.assertEqual(uac.count("Successful call"), calls, uac.output[-2000:])
        self.assertEqual(uac.count("Failed call"), 0)

        client = self.peer()
        client.send(message_request(client.port, call_id="probe", extra="X-Probe: 1\r\n"), warden.port)
        reply = client.recv()
        self.assertEqual(status_of(reply), (488, "Generation 3"))
        warden.stop()
        log = warden.output()
        self.assertEqual(log.count("filter chain rebuilt"), 2, log[-3000:])
        self.assertIn("reload failed, keeping the running chain: plugins[0].scripts[0].file: " + script + ":2:", log)

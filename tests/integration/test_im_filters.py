"""The four IM filters together in the running hop with real SIPp user
agents, configured as examples/sipwarden.json does: a link arrives at the UAS
defanged with the notice, a link to an .exe is answered 403 with a Warning."""
import os

from harness import ROOT, HopTestCase, Sipp, free_port


class ImFiltersWithSipp(HopTestCase):
    def hop_with_example_chain(self, uas_port):
        # The example config's chain, without its archive file and listeners.
        import json
        import re
        with open(os.path.join(ROOT, "examples", "sipwarden.json")) as example:
            text = re.sub(r"^\s*//.*$", "", example.read(), flags=re.M)
        config = json.loads(text)
        chain = [block for block in config["plugins"] if block["plugin"] not in ("archive", "call_log", "lua_policy")]
        return self.hop("--upstream", f"127.0.0.1:{uas_port}", config=json.dumps({"plugins": chain}))

    def assert_sipp_succeeds(self, uas_scenario, uac_scenario, calls=20):
        """SIPp's `uac_scenario` through the example chain to `uas_scenario`: every call succeeds."""
        uas_port = free_port()
        self.sipp_background(uas_scenario, port=uas_port)
        warden = self.hop_with_example_chain(uas_port)
        run = Sipp(uac_scenario, target=f"127.0.0.1:{warden.port}", calls=calls).run()
        self.assertEqual(run.count("Successful call"), calls, run.output[-2000:] + warden.output()[-2000:])

    def test_defanged_message_arrives_at_the_uas(self):
        self.assert_sipp_succeeds("uas_message_defanged.xml", "uac_message_link.xml")

    def test_link_to_an_executable_is_answered_403_with_warning(self):
        self.assert_sipp_succeeds("uas_message.xml", "uac_message_blocked.xml")


if __name__ == "__main__":
    import unittest
    unittest.main()

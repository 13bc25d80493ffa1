"""``python -m realtimechat``: the terminal client, as ``rtchat``."""

from realtimechat.cli.client import main

main(prog_name="rtchat")

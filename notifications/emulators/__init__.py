"""Local emulators of the four chat platforms' incoming webhooks, for tests and the demo.

They are built on the provider emulators' small ASGI framework
(``providers.emulators.base``: the accepted log, knobs for faults and rate limits, the
``/_emulator/…`` control endpoints) and served the same way
(``providers.emulators.server.EmulatorServer``). Each checks the URL's key, the signature
and the payload as its platform does and answers in the platform's own error format.

``credentials`` map what the URL carries to the signing secret ("" for none):

=========  =======================================  ================================
kind       key                                      value
=========  =======================================  ================================
dingtalk   ``access_token`` (query)                 the robot's ``SEC…`` secret or ""
feishu     the hook token (last path segment)       the bot's signing secret or ""
wecom      ``key`` (query)                          "" (WeCom does not sign)
slack      the path after ``/services/``            "" (Slack does not sign)
=========  =======================================  ================================

Accepted messages are logged with the ``X-Crier-Notification`` header as their key, so a
test counts how many times each notification arrived.
"""

from __future__ import annotations

from notifications.emulators.dingtalk import DingTalkEmulator
from notifications.emulators.feishu import FeishuEmulator
from notifications.emulators.slack import SlackEmulator
from notifications.emulators.wecom import WeComEmulator

EMULATORS = {cls.kind: cls for cls in (DingTalkEmulator, FeishuEmulator, WeComEmulator, SlackEmulator)}

# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = 救援正在赶来。
device-location-received = 位置已发送。
device-cancelled = 您的求救已取消。
device-refused = 未能受理：如有可能，请拨打 112。

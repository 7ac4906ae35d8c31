# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi：您安全吗？
welfare-check-body = { $area } 附近发生紧急情况。您安全吗？安全请回复 1，需要帮助请回复 2。
welfare-safe-reply = 谢谢。我们已记录您平安。
welfare-help-reply = 我们正在安排救助。如果所在地点安全，请留在原地。

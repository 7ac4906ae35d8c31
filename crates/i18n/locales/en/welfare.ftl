# Welfare checks ("are you safe?") sent to subscribers in an area during a disaster. Variable: $area.
welfare-check-subject = jikimi: are you safe?
welfare-check-body = There is an emergency near { $area }. Are you safe? Reply 1 if you are safe, 2 if you need help.
welfare-safe-reply = Thank you. We have noted that you are safe.
welfare-help-reply = Help is being arranged. Stay where you are if it is safe there.

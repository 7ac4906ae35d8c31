# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi: ligtas ka ba?
welfare-check-body = May emergency malapit sa { $area }. Ligtas ka ba? Sumagot ng 1 kung ligtas ka, 2 kung kailangan mo ng tulong.
welfare-safe-reply = Salamat. Naitala naming ligtas ka.
welfare-help-reply = Inaayos na ang tulong. Manatili ka kung nasaan ka kung ligtas doon.

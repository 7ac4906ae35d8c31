# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = ඔබ රැකබලා ගන්නා පුද්ගලයා
guardian-alert-subject = jikimi: { $who } ගෙන් SOS හදිසි ඇමතුමක්
guardian-alert-body = { $who } { $time } ට SOS හදිසි ඇමතුමක් යැවීය. 112 මධ්‍යස්ථානය එය ලැබී ක්‍රියා කරමින් සිටී.
guardian-dispatched-subject = jikimi: පොලිසිය { $who } වෙත යමින් සිටී
guardian-dispatched-body = { $time } ට පොලිස් නිලධාරීන් { $who } වෙත යවන ලදී.
guardian-closed-subject = jikimi: { $who } ගේ ඇමතුම අවසන් කරන ලදී
guardian-closed-body = 112 මධ්‍යස්ථානය { $who } ගේ ඇමතුම { $time } ට අවසන් කළේය.
guardian-reference = යොමු අංකය: { $reference }
guardian-no-reply = මෙම පණිවිඩයට පිළිතුරු නොදෙන්න. උදව් විය හැකි තොරතුරක් ඇත්නම් 112 අමතන්න.
# English until translated (disaster notices to guardians).
guardian-welfare-asked-subject = jikimi: { $who } may be in the area of { $area }
guardian-welfare-asked-body = A disaster ({ $area }) was declared at { $time } where { $who } was last known to be. jikimi is asking { $who } whether they are safe; you will be told when they answer.
guardian-welfare-safe-subject = jikimi: { $who } answered that they are safe
guardian-welfare-safe-body = { $who } answered at { $time } that they are safe ({ $area }).
guardian-welfare-need-help-subject = jikimi: { $who } answered that they need help
guardian-welfare-need-help-body = { $who } answered at { $time } that they need help ({ $area }). Rescuers have been told.
guardian-welfare-trapped-subject = jikimi: { $who } answered that they are trapped
guardian-welfare-trapped-body = { $who } answered at { $time } that they are trapped ({ $area }). Rescue teams have been told and go to people in order of urgency.
guardian-welfare-injured-subject = jikimi: { $who } answered that they are injured
guardian-welfare-injured-body = { $who } answered at { $time } that they are injured ({ $area }). Medical teams have been told.
guardian-welfare-silent-subject = jikimi: no answer yet from { $who }
guardian-welfare-silent-body = As of { $time }, { $who } has not answered whether they are safe ({ $area }). If you can reach them, ask them to answer, or call 112.

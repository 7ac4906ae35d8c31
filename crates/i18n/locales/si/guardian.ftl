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

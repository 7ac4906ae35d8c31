# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = උදව් පැමිණෙමින් තිබේ.
device-location-received = ස්ථානය යවන ලදී.
device-cancelled = ඔබේ හදිසි ඇමතුම අවලංගු කරන ලදී.
device-refused = භාර නොගැනිණි: හැකි නම් 112 අමතන්න.

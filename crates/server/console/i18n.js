// Console strings in Korean and English, and time formatting in the centre's time zone. The strings come from the
// server's Fluent files (crates/i18n/locales/<lang>/console.ftl), served as GET /api/console/i18n/<lang>; this module
// loads both before the console starts (top-level await), so t() stays synchronous and the language switch instant.

async function load(code) {
  try {
    const res = await fetch(`/api/console/i18n/${code}`, { headers: { Accept: 'application/json' } });
    if (!res.ok) return {};
    return (await res.json()).labels ?? {};
  } catch {
    return {};
  }
}

const [en, ko] = await Promise.all([load('en'), load('ko')]);
const STRINGS = { en, ko };

let lang = localStorage.getItem('jikimi.lang') || (navigator.language?.startsWith('ko') ? 'ko' : 'en');
let timeZone = 'Asia/Seoul';
let fmtCache = null;

export function t(key) {
  return STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
}

export function getLang() { return lang; }

export function setLang(next) {
  lang = next === 'ko' ? 'ko' : 'en';
  localStorage.setItem('jikimi.lang', lang);
  fmtCache = null;
  document.documentElement.lang = lang;
}

export function setTimeZone(tz) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    timeZone = tz;
  } catch {
    timeZone = 'Asia/Seoul';
  }
  fmtCache = null;
}

export function getTimeZone() { return timeZone; }

function formatter() {
  if (!fmtCache) {
    fmtCache = new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
      timeZone, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
      month: '2-digit', day: '2-digit',
    });
  }
  return fmtCache;
}

// Formats an RFC 3339 string or unix milliseconds in the centre's time zone.
export function fmtTime(value) {
  if (value === null || value === undefined || value === '') return '–';
  const d = typeof value === 'number' ? new Date(value) : new Date(value);
  if (Number.isNaN(d.getTime())) return '–';
  return formatter().format(d);
}

export function fmtAge(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

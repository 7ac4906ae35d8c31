// Console strings in English and Korean, and time formatting in the centre's time zone.

const STRINGS = {
  en: {
    title: 'jikimi dispatch console', login: 'Log in', username: 'User name', password: 'Password',
    loginFailed: 'Login failed: check the user name and password.', logout: 'Log out',
    queue: 'Incident queue', map: 'Map', detail: 'Incident', noSelection: 'Select an incident in the queue.',
    code: 'Code', status: 'Status', opened: 'Opened', reports: 'reports', units: 'Units',
    timeline: 'Timeline', locations: 'Location history', recommended: 'Recommended units', eta: 'ETA',
    distance: 'Distance', subscriber: 'Subscriber', reveal: 'Reveal personal details (audited)',
    revealReason: 'Reason for revealing (recorded in the audit log)', guardians: 'Guardians',
    notNotified: 'not notified', noPersonalData: 'Your role does not show personal data.',
    nPending: 'pending', nDelivered: 'delivered', nDead: 'dead-lettered', nAttempt: 'attempt', nAttempts: 'attempts', guardianN: 'Guardian',
    acknowledge: 'Acknowledge', dispatch: 'Dispatch', enRoute: 'En route', onScene: 'On scene',
    note: 'Add note', close: 'Close', outcome: 'Outcome', cancel: 'Cancel', save: 'Save',
    mute: 'Mute', unmute: 'Unmute', shortcuts: 'Shortcuts', live: 'Live', offline: 'Reconnecting…',
    none: 'none', accuracy: 'accuracy', assigned: 'Assigned unit', noUnits: 'No available unit.',
    recommend: 'Recommend units', language: '한국어', open: 'open', nameF: 'Name', phoneF: 'Phone',
    birth_dateF: 'Date of birth', addressF: 'Address', notesF: 'Notes', silent: 'silent',
    empty: 'No open incidents.', more: 'more', timeZone: 'Time zone',
    s_received: 'received', s_acknowledged: 'acknowledged', s_dispatched: 'dispatched', s_en_route: 'en route',
    s_on_scene: 'on scene', s_closed: 'closed', u_available: 'available', u_dispatched: 'dispatched',
    u_on_scene: 'on scene', u_off_duty: 'off duty',
    o_arrest: 'arrest', o_rescue: 'rescue', o_assistance: 'assistance', o_false_alarm: 'false alarm', o_abuse: 'abuse of service',
    e_alert_received: 'Alert received', e_location_added: 'Location added', e_acknowledged: 'Acknowledged',
    e_unit_recommended: 'Units recommended', e_dispatched: 'Dispatched', e_en_route: 'En route',
    e_on_scene: 'On scene', e_note_added: 'Note', e_closed: 'Closed',
    e_cancelled: 'Cancelled by the caller (PIN)', e_escalated: 'Escalated', e_report_added: 'Another report', e_referred: 'Referred by another CAD', referredFrom: 'from',
    duress: 'DURESS', duressReason: 'duress PIN',
    duressBanner: 'Duress PIN entered: the caller may be forced to cancel. Their phone showed an ordinary cancel. Keep the response going; do not call the caller back.',
    k_nav: 'next / previous incident', k_ack: 'acknowledge', k_disp: 'dispatch recommended unit',
    k_enr: 'en route', k_ons: 'on scene', k_note: 'add note', k_close: 'close with outcome',
    k_reveal: 'reveal subscriber', k_mute: 'mute / unmute', k_lang: 'language', k_help: 'show shortcuts',
  },
  ko: {
    title: '지킴이 상황실 콘솔', login: '로그인', username: '사용자 이름', password: '비밀번호',
    loginFailed: '로그인 실패: 사용자 이름과 비밀번호를 확인하세요.', logout: '로그아웃',
    queue: '사건 대기열', map: '지도', detail: '사건', noSelection: '대기열에서 사건을 선택하세요.',
    code: '코드', status: '상태', opened: '접수', reports: '건 신고', units: '순찰차',
    timeline: '경과', locations: '위치 이력', recommended: '추천 순찰차', eta: '도착 예정',
    distance: '거리', subscriber: '가입자', reveal: '개인정보 열람 (감사 기록)',
    revealReason: '열람 사유 (감사 기록에 남습니다)', guardians: '보호자',
    notNotified: '통보 안 됨', noPersonalData: '이 역할은 개인정보를 볼 수 없습니다.',
    nPending: '대기', nDelivered: '전달', nDead: '전달 포기', nAttempt: '회 시도', nAttempts: '회 시도', guardianN: '보호자',
    acknowledge: '확인', dispatch: '출동 지령', enRoute: '이동 중', onScene: '현장 도착',
    note: '메모 추가', close: '종결', outcome: '처리 결과', cancel: '취소', save: '저장',
    mute: '음소거', unmute: '소리 켜기', shortcuts: '단축키', live: '실시간', offline: '재연결 중…',
    none: '없음', accuracy: '정확도', assigned: '배정 순찰차', noUnits: '가용 순찰차 없음.',
    recommend: '순찰차 추천', language: 'English', open: '진행', nameF: '이름', phoneF: '전화번호',
    birth_dateF: '생년월일', addressF: '주소', notesF: '특이사항', silent: '무음',
    empty: '진행 중인 사건이 없습니다.', more: '건 더', timeZone: '시간대',
    s_received: '접수', s_acknowledged: '확인', s_dispatched: '출동 지령', s_en_route: '이동 중',
    s_on_scene: '현장 도착', s_closed: '종결', u_available: '가용', u_dispatched: '출동',
    u_on_scene: '현장', u_off_duty: '비번',
    o_arrest: '검거', o_rescue: '구조', o_assistance: '조치', o_false_alarm: '오인 신고', o_abuse: '허위·장난 신고',
    e_alert_received: '신고 접수', e_location_added: '위치 추가', e_acknowledged: '확인',
    e_unit_recommended: '순찰차 추천', e_dispatched: '출동 지령', e_en_route: '이동 중',
    e_on_scene: '현장 도착', e_note_added: '메모', e_closed: '종결',
    e_cancelled: '신고자 취소 (PIN)', e_escalated: '긴급 격상', e_report_added: '추가 신고', e_referred: '타 기관 이관', referredFrom: '이관 기관',
    duress: '강요', duressReason: '강요 PIN',
    duressBanner: '강요 PIN 입력: 신고자가 취소를 강요받고 있을 수 있습니다. 신고자 휴대전화에는 일반 취소로 표시되었습니다. 출동을 유지하고 신고자에게 회신 전화를 하지 마십시오.',
    k_nav: '다음 / 이전 사건', k_ack: '확인', k_disp: '추천 순찰차 출동',
    k_enr: '이동 중', k_ons: '현장 도착', k_note: '메모 추가', k_close: '결과와 함께 종결',
    k_reveal: '가입자 정보 열람', k_mute: '음소거 전환', k_lang: '언어', k_help: '단축키 보기',
  },
};

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

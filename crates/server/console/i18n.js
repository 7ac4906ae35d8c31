// Console strings in English and Korean, and time formatting in the centre's time zone.

const STRINGS = {
  en: {
    money: 'Money', moneyTitle: 'Follow the money', mCase: 'Case', mRun: 'Trace run', mNoCase: 'No shared case yet.',
    mNoRun: 'No trace run for this case yet: upload transfers and run a trace.', mUpload: 'Attach transfers',
    mFile: 'File', mFormat: 'Format', mUploadGo: 'Upload', mSets: 'Transfer sets', mTransfers: 'transfers',
    mBadRows: 'bad rows', mLine: 'line', mTrace: 'Run a trace', mSet: 'Transfer set',
    mSeeds: 'Seed tx ids (the victims\' payments)', mPolicy: 'Policy',
    mCashout: 'Known cash-out points (account, kind, name, country; one a line)', mTraceGo: 'Trace',
    f_csv: 'CSV', f_camt053: 'camt.053 statement', f_tron_export: 'TRON token export',
    f_ethereum_export: 'Ethereum token export', f_bitcoin_export: 'Bitcoin export',
    p_haircut: 'haircut (pro rata)', p_fifo: 'FIFO (oldest money first)', mFlow: 'Flow of the money',
    mSeeded: 'seeded', mHeld: 'held at the end', mMissing: 'seeds not found',
    mKeys: 'Arrow keys move through the graph: Up and Down within a column or among a node\'s transfers, Right along the money, Left back.',
    r_victim: 'Victims', r_mule: 'Mule layer', r_endpoint: 'Endpoints', mSent: 'sent', mHolds: 'holds',
    mReceived: 'received', mEdge: 'Transfers', mTainted: 'tainted', mOf: 'of', mFlowTable: 'The flow as a table',
    mFrom: 'From', mTo: 'To', mAmount: 'Amount', mEndpoints: 'Where the money is (endpoints)', mAccount: 'Account',
    mType: 'Type', mCountry: 'Country', mRole: 'Role', mHolding: 'Holding', mCashoutPoint: 'Cash-out point',
    mController: 'Controlled by (shared cases)', mPerson: 'person', mNamedNoController: 'named in a case',
    mOrg: 'organisation', mOrgs: 'Organisations behind the endpoints', mEndpointsN: 'endpoints', mRecords: 'cases',
    mMoneyLinks: 'money links', t_iban: 'IBAN', t_account: 'bank account', t_wallet: 'wallet',
    cs_iban: 'IBAN', cs_cashout_list: 'cash-out list',
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
    e_cancelled: 'Cancelled by the caller (PIN)', e_escalated: 'Escalated', e_report_added: 'Another report',
    duress: 'DURESS', duressReason: 'duress PIN',
    duressBanner: 'Duress PIN entered: the caller may be forced to cancel. Their phone showed an ordinary cancel. Keep the response going; do not call the caller back.',
    k_nav: 'next / previous incident', k_ack: 'acknowledge', k_disp: 'dispatch recommended unit',
    k_enr: 'en route', k_ons: 'on scene', k_note: 'add note', k_close: 'close with outcome',
    k_reveal: 'reveal subscriber', k_mute: 'mute / unmute', k_lang: 'language', k_help: 'show shortcuts',
    k_ask: 'ask the caller (silent text)', ask: 'Ask (silent)', askSend: 'Send', askWhich: 'Question',
    askFree: 'Free text…', askText: 'Your question', askMinutes: 'Minutes', askAnswer: 'Answer buttons',
    askA_yes_no: 'Yes / No', askA_number: 'A number 0–10', askA_place: 'Inside / outside / vehicle', askA_ok: 'OK',
    askReveal: 'Reveal: show it as written although the caller is under duress (audited)', askRevealed: 'revealed',
    askDuressNote: 'Duress: the device shows a neutral wording that does not mention police, and no free text, unless you reveal.',
    askSilentNote: 'Shown silently on the caller\'s device in their language; they answer with a tap.',
    askShown: 'Device shows', askWithheld: 'Sent; withheld on the device until revealed',
    e_question_sent: 'Question', e_answer_received: 'Answer', yes: 'Yes', no: 'No', minutes: 'min',
    'q_attacker-present': 'Is the attacker still there?', 'q_safe-now': 'Are you safe right now?',
    q_injured: 'Is anyone injured?', 'q_people-count': 'How many attackers?', q_where: 'Where are you?',
    'q_help-coming': 'Police arrive in … minutes; stay hidden',
    p_inside: 'inside a building', p_outside: 'outside', p_vehicle: 'in a vehicle', p_ok: 'OK',
    k_find: 'find an address', findAddress: 'Find address', addressL: 'Address', crossStreet: 'near the crossing with',
    noAddressMatch: 'No matching address.', osmAttribution: '© OpenStreetMap contributors',
  },
  ko: {
    money: '자금 추적', moneyTitle: '자금 추적', mCase: '사건', mRun: '추적 실행', mNoCase: '공유된 사건이 아직 없습니다.',
    mNoRun: '이 사건의 추적 실행이 아직 없습니다. 거래 내역을 올리고 추적을 실행하십시오.', mUpload: '거래 내역 첨부',
    mFile: '파일', mFormat: '형식', mUploadGo: '올리기', mSets: '거래 묶음', mTransfers: '건',
    mBadRows: '오류 행', mLine: '행', mTrace: '추적 실행', mSet: '거래 묶음',
    mSeeds: '기점 거래 ID (피해자 송금)', mPolicy: '방식',
    mCashout: '알려진 현금화 지점 (계좌, 종류, 이름, 국가; 한 줄에 하나)', mTraceGo: '추적',
    f_csv: 'CSV', f_camt053: 'camt.053 명세서', f_tron_export: 'TRON 토큰 내보내기',
    f_ethereum_export: '이더리움 토큰 내보내기', f_bitcoin_export: '비트코인 내보내기',
    p_haircut: '비례 배분 (haircut)', p_fifo: '선입선출 (FIFO)', mFlow: '자금 흐름',
    mSeeded: '피해금', mHeld: '최종 보유', mMissing: '찾지 못한 기점',
    mKeys: '화살표 키로 그래프를 이동합니다: 위·아래는 같은 열 또는 같은 계좌의 송금 사이, 오른쪽은 돈의 흐름 방향, 왼쪽은 반대 방향.',
    r_victim: '피해자', r_mule: '대포통장 단계', r_endpoint: '종착 계좌', mSent: '송금', mHolds: '보유',
    mReceived: '수취', mEdge: '송금', mTainted: '피해금', mOf: '/', mFlowTable: '자금 흐름 표',
    mFrom: '보낸 계좌', mTo: '받은 계좌', mAmount: '금액', mEndpoints: '자금 소재 (종착 계좌)', mAccount: '계좌',
    mType: '유형', mCountry: '국가', mRole: '역할', mHolding: '보유액', mCashoutPoint: '현금화 지점',
    mController: '통제 주체 (공유 사건)', mPerson: '인물', mNamedNoController: '사건에 기재됨',
    mOrg: '조직', mOrgs: '종착 계좌 뒤의 조직', mEndpointsN: '개 종착 계좌', mRecords: '개 사건',
    mMoneyLinks: '개 자금 연결', t_iban: 'IBAN', t_account: '은행 계좌', t_wallet: '지갑',
    cs_iban: 'IBAN', cs_cashout_list: '현금화 목록',
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
    e_cancelled: '신고자 취소 (PIN)', e_escalated: '긴급 격상', e_report_added: '추가 신고',
    duress: '강요', duressReason: '강요 PIN',
    duressBanner: '강요 PIN 입력: 신고자가 취소를 강요받고 있을 수 있습니다. 신고자 휴대전화에는 일반 취소로 표시되었습니다. 출동을 유지하고 신고자에게 회신 전화를 하지 마십시오.',
    k_nav: '다음 / 이전 사건', k_ack: '확인', k_disp: '추천 순찰차 출동',
    k_enr: '이동 중', k_ons: '현장 도착', k_note: '메모 추가', k_close: '결과와 함께 종결',
    k_reveal: '가입자 정보 열람', k_mute: '음소거 전환', k_lang: '언어', k_help: '단축키 보기',
    k_ask: '신고자에게 질문 (무음 문자)', ask: '질문 (무음)', askSend: '보내기', askWhich: '질문',
    askFree: '직접 입력…', askText: '질문 내용', askMinutes: '분', askAnswer: '응답 버튼',
    askA_yes_no: '예 / 아니요', askA_number: '숫자 0–10', askA_place: '건물 안 / 바깥 / 차 안', askA_ok: '확인',
    askReveal: '공개: 강요 상황이지만 문구 그대로 표시 (감사 기록)', askRevealed: '공개',
    askDuressNote: '강요 상황: 단말기에는 경찰을 드러내지 않는 평범한 문구가 표시되고, 공개하지 않으면 직접 입력 문구는 표시되지 않습니다.',
    askSilentNote: '신고자 단말기에 소리 없이 가입자의 언어로 표시되며, 터치 한 번으로 답합니다.',
    askShown: '단말기 표시', askWithheld: '전송됨: 공개 전까지 단말기에 표시되지 않음',
    e_question_sent: '질문', e_answer_received: '응답', yes: '예', no: '아니요', minutes: '분',
    'q_attacker-present': '가해자가 아직 있습니까?', 'q_safe-now': '지금 안전합니까?',
    q_injured: '다친 사람이 있습니까?', 'q_people-count': '가해자는 몇 명입니까?', q_where: '지금 어디에 있습니까?',
    'q_help-coming': '경찰 …분 뒤 도착, 숨어 계세요',
    p_inside: '건물 안', p_outside: '바깥', p_vehicle: '차 안', p_ok: '확인',
    k_find: '주소 찾기', findAddress: '주소 찾기', addressL: '주소', crossStreet: '교차 도로',
    noAddressMatch: '일치하는 주소가 없습니다.', osmAttribution: '© OpenStreetMap 기여자',
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

// Korean and English text of the pages. The language comes from a choice the
// person made earlier, else from the browser's language; the switch in the
// header flips it and remembers it.

export const STRINGS = {
  en: {
    'skip': 'Skip to content',
    'lang.switch': '한국어',
    'lang.switchLabel': 'Show the page in Korean',
    'start.title': 'Concerts on sale',
    'start.loading': 'Loading concerts…',
    'start.none': 'No concert is on sale right now.',
    'id.new': 'Sign up to join a line. It takes one click and no details.',
    'id.stored': 'Welcome back. This browser remembers user {id}.',
    'id.current': 'Signed in as user {id}.',
    'id.signUp': 'Sign up',
    'id.signUpNew': 'Sign up as someone new',
    'id.continue': 'Continue as stored user',
    'id.needed': 'Sign up or continue first to join a line.',
    'concert.opens': 'Sale opens {when}',
    'concert.onSale': 'On sale now',
    'concert.dates': 'Dates: {dates}',
    'concert.join': 'Join the line',
    'concert.joinLabel': 'Join the line for {title}',
    'history.title': 'Your payments',
    'history.none': 'No payments yet.',
    'history.show': 'Show my tickets',
    'history.item': '{title}, {date}: seats {seats}, {amount}, paid {paid}',
    'wait.title': 'You are in line',
    'wait.place': 'Your place in line',
    'wait.ahead.0': 'Nobody is ahead of you.',
    'wait.ahead.1': '1 person is ahead of you.',
    'wait.ahead.n': '{n} people are ahead of you.',
    'wait.progress': 'Progress through the line: {pct}%',
    'wait.estimate': 'Estimated wait: {wait}.',
    'wait.estimateP90': 'Estimated wait: {wait} (almost surely within {p90}).',
    'wait.opens': 'The line opens in {wait}. Places are drawn when it opens; everyone who is here by then has the same chance.',
    'wait.keep': 'Keep this page open. If you reload or come back, you keep your place.',
    'wait.soldOut': 'Every seat is sold or held right now. You keep your place: if held seats are released, the line moves again.',
    'wait.leave': 'Leave the line',
    'wait.updated': 'Updated {time}.',
    'wait.announce': 'You are number {n} in line.',
    'wait.announceFirst': 'You are next in line.',
    'wait.lessThanMinute': 'less than a minute',
    'wait.minutes': 'about {n} min',
    'wait.hours': 'about {h} h {m} min',
    'wait.seconds': '{n} s',
    'active.title': 'It is your turn',
    'active.announce': 'It is your turn. You can choose seats now.',
    'active.timer': 'Time left to book: {time}',
    'wallet.title': 'Your balance',
    'wallet.amount': 'Charge amount (won)',
    'wallet.charge': 'Charge',
    'wallet.charged': 'Charged {amount}. Your balance is {balance}.',
    'wallet.whileHolding': 'You cannot charge while seats are held for you. Pay, or release them first.',
    'wallet.short': 'The seats you chose cost {amount}: charge at least {short} more before you pay.',
    'dates.title': 'Choose a date',
    'dates.refresh': 'Check again',
    'dates.item': '{date}: {available} of {total} seats left',
    'dates.none': 'Sold out: every date is sold or held. Seats that are held but not paid may come back; try again in a few minutes.',
    'seats.title': 'Choose up to 4 seats',
    'seats.map': 'Seats of {date}',
    'seats.hint': 'Hover or focus a seat to see its price. Arrow keys move between seats; Enter or Space chooses.',
    'seats.info': 'Seat {seat}: {price}, {status}',
    'seats.available': 'available',
    'seats.held': 'held by someone',
    'seats.sold': 'sold',
    'seats.mine': 'held for you',
    'seats.selected': 'chosen',
    'seats.label': 'Seat {seat}, {price}, {status}',
    'seats.legendAvailable': 'Available',
    'seats.legendSelected': 'Chosen by you',
    'seats.legendHeld': 'Held (striped, ◐)',
    'seats.legendSold': 'Sold (dark, ✕)',
    'seats.none': 'No seats chosen.',
    'seats.chosen': 'Chosen: seats {seats}, {amount} in all.',
    'seats.max': 'You can hold up to 4 seats at once.',
    'seats.taken': 'Seat {seat} is taken: it is {status}. Choose another seat.',
    'seats.hold': 'Hold {n} seats',
    'seats.holdOne': 'Hold 1 seat',
    'seats.holdNone': 'Hold seats',
    'seats.refresh': 'Refresh seats',
    'seats.loading': 'Loading seats…',
    'res.title': 'Your seats are held',
    'res.seats': 'Seats {seats} on {date}',
    'res.amount': 'To pay: {amount}',
    'res.timer': 'Held for you for {time}',
    'res.pay': 'Pay {amount}',
    'res.release': 'Release seats',
    'res.short': 'Your balance of {balance} does not cover this. Paying now would fail and end your turn: release the seats, charge, then hold them again.',
    'res.released': 'Seats released.',
    'ticket.title': 'Your ticket',
    'ticket.thanks': 'Paid. These seats are yours.',
    'ticket.concert': 'Concert',
    'ticket.date': 'Date',
    'ticket.seats': 'Seats',
    'ticket.amount': 'Paid',
    'ticket.balance': 'Balance left',
    'ticket.id': 'Payment',
    'ticket.back': 'Back to concerts',
    'err.saleClosed': 'This sale is over.',
    'err.holdExpired': 'Your hold expired and the seats were released. Choose seats again.',
    'err.insufficient': 'Your balance of {balance} does not cover {amount}. Nothing was charged and the seats were released. Charge your balance and join the line again.',
    'err.tokenExpired': 'Your place in line has expired. Join the line again to get a new place.',
    'err.signInExpired': 'Your sign-in has expired. Sign up again.',
    'err.busy': 'The server is busy. Trying again in {n} s; you keep your place.',
    'err.busyAction': 'The server is busy. Try again in {n} s.',
    'err.offline': 'Cannot reach the server. Trying again in {n} s; you keep your place.',
    'err.seatTaken': 'Seat {seats} was just taken by someone else. Choose another seat.',
    'err.seatsTaken': 'Seats {seats} were just taken by someone else. Choose other seats.',
    'err.queueFull': 'The line is full right now. Try again in {n} s.',
    'err.notAdmitted': 'You are still waiting in line.',
    'err.reservationExists': 'You already hold seats for this concert: pay for them or release them first.',
    'err.chargeRange': 'Charge between {min} and {max}.',
    'err.scheduleClosed': 'This date is no longer on sale. Choose another date.',
    'err.paying': 'Your payment is being processed…',
    'err.generic': 'Something went wrong: {message}',
    'action.rejoin': 'Join the line again',
    'action.back': 'Back to concerts',
    'action.dismiss': 'Dismiss',
    'won': '{n} won',
  },
  ko: {
    'skip': '본문으로 건너뛰기',
    'lang.switch': 'English',
    'lang.switchLabel': '영어로 보기',
    'start.title': '판매 중인 공연',
    'start.loading': '공연을 불러오는 중…',
    'start.none': '지금 판매 중인 공연이 없습니다.',
    'id.new': '대기열에 들어가려면 가입하세요. 한 번만 누르면 되고 개인 정보는 필요 없습니다.',
    'id.stored': '다시 오셨군요. 이 브라우저는 사용자 {id}을(를) 기억합니다.',
    'id.current': '사용자 {id}(으)로 이용 중입니다.',
    'id.signUp': '가입하기',
    'id.signUpNew': '새 사용자로 가입',
    'id.continue': '저장된 사용자로 계속',
    'id.needed': '대기열에 들어가려면 먼저 가입하거나 계속하세요.',
    'concert.opens': '판매 시작 {when}',
    'concert.onSale': '지금 판매 중',
    'concert.dates': '공연 일시: {dates}',
    'concert.join': '대기열 들어가기',
    'concert.joinLabel': '{title} 대기열 들어가기',
    'history.title': '결제 내역',
    'history.none': '아직 결제 내역이 없습니다.',
    'history.show': '내 티켓 보기',
    'history.item': '{title}, {date}: 좌석 {seats}, {amount}, 결제 {paid}',
    'wait.title': '대기 중입니다',
    'wait.place': '내 대기 순서',
    'wait.ahead.0': '앞에 아무도 없습니다.',
    'wait.ahead.1': '앞에 1명이 있습니다.',
    'wait.ahead.n': '앞에 {n}명이 있습니다.',
    'wait.progress': '대기 진행률: {pct}%',
    'wait.estimate': '예상 대기 시간: {wait}.',
    'wait.estimateP90': '예상 대기 시간: {wait} (늦어도 {p90} 이내).',
    'wait.opens': '{wait} 후에 대기열이 열립니다. 열릴 때 순서를 추첨하며, 그때까지 온 모든 분께 같은 기회가 있습니다.',
    'wait.keep': '이 페이지를 열어 두세요. 새로고침하거나 다시 와도 순서는 유지됩니다.',
    'wait.soldOut': '지금은 모든 좌석이 팔렸거나 선점되어 있습니다. 순서는 유지됩니다. 선점된 좌석이 풀리면 대기열이 다시 움직입니다.',
    'wait.leave': '대기열 나가기',
    'wait.updated': '{time}에 갱신됨.',
    'wait.announce': '대기 순서 {n}번입니다.',
    'wait.announceFirst': '다음 차례입니다.',
    'wait.lessThanMinute': '1분 이내',
    'wait.minutes': '약 {n}분',
    'wait.hours': '약 {h}시간 {m}분',
    'wait.seconds': '{n}초',
    'active.title': '입장 차례입니다',
    'active.announce': '입장 차례입니다. 지금 좌석을 고를 수 있습니다.',
    'active.timer': '남은 예매 시간: {time}',
    'wallet.title': '잔액',
    'wallet.amount': '충전 금액 (원)',
    'wallet.charge': '충전하기',
    'wallet.charged': '{amount} 충전했습니다. 잔액은 {balance}입니다.',
    'wallet.whileHolding': '좌석을 선점한 동안에는 충전할 수 없습니다. 결제하거나 먼저 좌석을 해제하세요.',
    'wallet.short': '고른 좌석은 {amount}입니다. 결제 전에 최소 {short}을 더 충전하세요.',
    'dates.title': '날짜 선택',
    'dates.refresh': '다시 확인',
    'dates.item': '{date}: {total}석 중 {available}석 남음',
    'dates.none': '매진: 모든 날짜의 좌석이 팔렸거나 선점되었습니다. 결제되지 않은 선점 좌석이 풀릴 수 있으니 몇 분 뒤 다시 확인하세요.',
    'seats.title': '좌석을 4석까지 고르세요',
    'seats.map': '{date} 좌석',
    'seats.hint': '좌석에 마우스를 올리거나 초점을 두면 가격이 보입니다. 화살표 키로 이동하고 Enter나 Space로 고릅니다.',
    'seats.info': '{seat}번 좌석: {price}, {status}',
    'seats.available': '예매 가능',
    'seats.held': '다른 사람이 선점 중',
    'seats.sold': '판매 완료',
    'seats.mine': '내가 선점함',
    'seats.selected': '선택함',
    'seats.label': '{seat}번 좌석, {price}, {status}',
    'seats.legendAvailable': '예매 가능',
    'seats.legendSelected': '내가 고름',
    'seats.legendHeld': '선점됨 (빗금, ◐)',
    'seats.legendSold': '판매 완료 (어두움, ✕)',
    'seats.none': '고른 좌석이 없습니다.',
    'seats.chosen': '고른 좌석: {seats}번, 합계 {amount}.',
    'seats.max': '한 번에 4석까지 선점할 수 있습니다.',
    'seats.taken': '{seat}번 좌석은 {status} 상태입니다. 다른 좌석을 고르세요.',
    'seats.hold': '{n}석 선점하기',
    'seats.holdOne': '1석 선점하기',
    'seats.holdNone': '좌석 선점하기',
    'seats.refresh': '좌석 새로고침',
    'seats.loading': '좌석을 불러오는 중…',
    'res.title': '좌석을 선점했습니다',
    'res.seats': '{date} 좌석 {seats}번',
    'res.amount': '결제 금액: {amount}',
    'res.timer': '선점 남은 시간: {time}',
    'res.pay': '{amount} 결제하기',
    'res.release': '좌석 해제',
    'res.short': '잔액 {balance}(으)로는 부족합니다. 지금 결제하면 실패하고 차례가 끝납니다. 좌석을 해제하고 충전한 뒤 다시 선점하세요.',
    'res.released': '좌석을 해제했습니다.',
    'ticket.title': '내 티켓',
    'ticket.thanks': '결제 완료. 이 좌석은 이제 회원님의 것입니다.',
    'ticket.concert': '공연',
    'ticket.date': '날짜',
    'ticket.seats': '좌석',
    'ticket.amount': '결제 금액',
    'ticket.balance': '남은 잔액',
    'ticket.id': '결제 번호',
    'ticket.back': '공연 목록으로',
    'err.saleClosed': '이 공연의 판매가 끝났습니다.',
    'err.holdExpired': '선점 시간이 끝나 좌석이 해제되었습니다. 좌석을 다시 고르세요.',
    'err.insufficient': '잔액 {balance}(으)로는 {amount}을(를) 결제할 수 없습니다. 결제되지 않았고 좌석은 해제되었습니다. 잔액을 충전하고 대기열에 다시 들어가세요.',
    'err.tokenExpired': '대기 순서가 만료되었습니다. 대기열에 다시 들어가 새 순서를 받으세요.',
    'err.signInExpired': '로그인이 만료되었습니다. 다시 가입하세요.',
    'err.busy': '서버가 혼잡합니다. {n}초 후 다시 시도합니다. 순서는 유지됩니다.',
    'err.busyAction': '서버가 혼잡합니다. {n}초 후 다시 시도하세요.',
    'err.offline': '서버에 연결할 수 없습니다. {n}초 후 다시 시도합니다. 순서는 유지됩니다.',
    'err.seatTaken': '{seats}번 좌석을 방금 다른 사람이 선점했습니다. 다른 좌석을 고르세요.',
    'err.seatsTaken': '{seats}번 좌석을 방금 다른 사람이 선점했습니다. 다른 좌석을 고르세요.',
    'err.queueFull': '지금은 대기열이 가득 찼습니다. {n}초 후 다시 시도하세요.',
    'err.notAdmitted': '아직 대기 중입니다.',
    'err.reservationExists': '이 공연에 이미 선점한 좌석이 있습니다. 결제하거나 먼저 해제하세요.',
    'err.chargeRange': '{min}에서 {max} 사이로 충전하세요.',
    'err.scheduleClosed': '이 날짜는 더 이상 판매하지 않습니다. 다른 날짜를 고르세요.',
    'err.paying': '결제를 처리하는 중입니다…',
    'err.generic': '문제가 생겼습니다: {message}',
    'action.rejoin': '대기열 다시 들어가기',
    'action.back': '공연 목록으로',
    'action.dismiss': '닫기',
    'won': '{n}원',
  },
};

const LANG_KEY = 'lineup.lang';

function initialLang() {
  const stored = globalThis.localStorage?.getItem(LANG_KEY);
  if (stored === 'ko' || stored === 'en') return stored;
  const preferred = globalThis.navigator?.languages?.[0] || globalThis.navigator?.language || 'en';
  return preferred.toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

let lang = initialLang();

export function currentLang() {
  return lang;
}

export function setLang(next) {
  lang = next === 'ko' ? 'ko' : 'en';
  globalThis.localStorage?.setItem(LANG_KEY, lang);
}

/** The text of `key` in the current language, `{name}` replaced from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

function locale() {
  return lang === 'ko' ? 'ko-KR' : 'en-US';
}

export function number(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

export function won(n) {
  return t('won', { n: number(n) });
}

export function dateTime(iso) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

export function clock(date = new Date()) {
  return new Intl.DateTimeFormat(locale(), { timeStyle: 'medium' }).format(date);
}

/** A countdown as m:ss (or h:mm:ss). */
export function countdown(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** A wait in words: "less than a minute", "about 4 min", "about 1 h 5 min". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t('wait.lessThanMinute');
  const minutes = Math.round(s / 60);
  if (minutes < 60) return t('wait.minutes', { n: minutes });
  return t('wait.hours', { h: Math.floor(minutes / 60), m: minutes % 60 });
}

/** Sets the text of every `[data-i18n]` element and the label of every `[data-i18n-label]`. */
export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}

// Chinese (zh-CN) for Chinese browsers, English otherwise; the choice is remembered.
const en = {
  appName: 'Jianghai', tagline: 'River–sea ro-ro export supervision',
  login: 'Log in', logout: 'Log out', username: 'Username', password: 'Password', loginFailed: 'Login failed',
  language: 'Language', nav: 'Main navigation', loading: 'Loading…', none: 'Nothing to show.', notFound: 'Not found, or not visible to your party.',
  map: 'Corridor map', vessels: 'Vessels', vessel: 'Vessel', alerts: 'Alerts', vin: 'VIN search', tally: 'Tally', loadingScreen: 'Loading (stowage)',
  customs: 'Customs transit', kpi: 'KPIs',
  voyage: 'Voyage', state: 'State', progress: 'Progress', eta: 'ETA (p50–p90)', openAlerts: 'Open alerts', position: 'Position', km: 'km',
  follow: 'Follow', noTrack: 'No position yet', decks: 'Decks', deck: 'Deck', cars: 'cars', sensors: 'Sensors', seals: 'Seal states',
  sealsNone: 'No seal readings are available from the API yet.',
  severity: 'Severity', all: 'All', subject: 'Subject', opened: 'Opened', actions: 'Actions',
  acknowledge: 'Acknowledge', resolve: 'Resolve', comment: 'Comment', send: 'Send', note: 'Note', live: 'Live', offline: 'Reconnecting…',
  search: 'Search', vinLabel: 'VIN (17 characters)', timeline: 'Timeline', event: 'Event', recorded: 'Recorded', where: 'Where', hash: 'Hash',
  ledgerVerified: 'Ledger verified', ledgerFailed: 'Ledger does NOT verify', ledgerUnavailable: 'Ledger verification is not open to your party',
  entries: 'entries', head: 'head', exporter: 'Exporter', manufacturer: 'Manufacturer',
  sessions: 'Tally sessions', gateIns: 'Gate-ins', facility: 'Facility', shipment: 'Shipment', identifications: 'Identifications', truck: 'Truck', onManifest: 'On manifest', yes: 'yes', no: 'no', at: 'At',
  stowagePlan: 'Stowage plan', version: 'Version', placements: 'Placements', noPlan: 'No stowage plan visible.',
  transitBoard: 'Transit board', readOnly: 'Read-only: the declarations your party may see; customs acts on them.',
  noTransits: 'No transit declaration is visible to your party.', transits: 'Transit declarations', declaration: 'Declaration',
  departureCustoms: 'Departure customs', exitCustoms: 'Exit customs', carrier: 'Carrier', ship: 'Ship', route: 'Route',
  declared: 'Declared', deadline: 'Time limit', vehicles: 'Vehicles', sealNumber: 'Seal number', sealCount: 'Seals', sealKind: 'Kind', sealOn: 'On',
  telemetry: 'E-seal telemetry', mechanical: 'Mechanical', electronic: 'Electronic', battery: 'Battery', noTelemetry: 'no readings visible',
  sealApplied: 'Applied', sealSealed: 'Sealed', sealOpened: 'OPENED', sealVerified: 'verified intact on arrival',
  holds: 'Holds', holdKind: 'Hold', holdReason: 'Reason', held: 'Held', released: 'Released', declarationLog: 'Declaration log',
  organisation: 'Organisation', action: 'Action', outcome: 'Outcome', detail: 'Detail', refused: 'Refused', done: 'Done',
  refusedAttempts: 'Refused attempts', customsTransitTime: 'Customs transit time (declared to closed, median)',
  carsInTransit: 'Cars in transit', transitTime: 'River transit time', dwell: 'Yard dwell (gate-in to departure, median)', alertCounts: 'Alerts',
  savings: 'Savings against container transit', notAvailable: 'not available from the API', hoursShort: 'h', vehiclesByState: 'Vehicles by state',
  theme: 'Map source', builtin: 'Built-in (offline)', attribution: 'Attribution',
};
type Dict = typeof en;
const zh: Dict = {
  appName: '江海', tagline: '渝车出海 · 江海联运监管',
  login: '登录', logout: '退出', username: '用户名', password: '密码', loginFailed: '登录失败',
  language: '语言', nav: '主导航', loading: '加载中…', none: '暂无数据。', notFound: '不存在，或您的单位无权查看。',
  map: '航道地图', vessels: '船舶', vessel: '船舶', alerts: '告警', vin: 'VIN 查询', tally: '理货', loadingScreen: '装船（配载）',
  customs: '海关转关', kpi: '指标',
  voyage: '航次', state: '状态', progress: '进度', eta: '预计到达 (p50–p90)', openAlerts: '未处理告警', position: '位置', km: '公里',
  follow: '跟踪', noTrack: '暂无船位', decks: '甲板', deck: '甲板', cars: '辆', sensors: '传感器', seals: '关封状态',
  sealsNone: '接口暂未提供关封读数。',
  severity: '级别', all: '全部', subject: '对象', opened: '发生时间', actions: '操作',
  acknowledge: '确认', resolve: '解除', comment: '备注', send: '发送', note: '说明', live: '实时', offline: '重新连接中…',
  search: '查询', vinLabel: 'VIN（17 位）', timeline: '全程记录', event: '事件', recorded: '记录时间', where: '地点', hash: '哈希',
  ledgerVerified: '账本已校验', ledgerFailed: '账本校验失败', ledgerUnavailable: '您的单位无权校验账本',
  entries: '条', head: '链头', exporter: '出口商', manufacturer: '制造商',
  sessions: '理货作业', gateIns: '进场', facility: '场站', shipment: '货批', identifications: '识别数', truck: '车牌', onManifest: '在舱单内', yes: '是', no: '否', at: '时间',
  stowagePlan: '配载图', version: '版本', placements: '车位', noPlan: '无可见的配载图。',
  transitBoard: '转关看板', readOnly: '只读：本单位可见的转关申报；由海关办理。',
  noTransits: '本单位无可见的转关申报。', transits: '转关申报', declaration: '申报单',
  departureCustoms: '启运地海关', exitCustoms: '出境地海关', carrier: '承运人', ship: '运输工具', route: '路线',
  declared: '申报时间', deadline: '转关时限', vehicles: '车辆', sealNumber: '关封号', sealCount: '关封', sealKind: '类型', sealOn: '施封位置',
  telemetry: '电子关锁数据', mechanical: '机械封志', electronic: '电子关锁', battery: '电量', noTelemetry: '无可见读数',
  sealApplied: '已施封', sealSealed: '施封完好', sealOpened: '已开启', sealVerified: '抵达核验完好',
  holds: '扣留', holdKind: '扣留类型', holdReason: '原因', held: '扣留时间', released: '放行时间', declarationLog: '申报记录',
  organisation: '单位', action: '操作', outcome: '结果', detail: '详情', refused: '已拒绝', done: '已办理',
  refusedAttempts: '被拒绝的操作', customsTransitTime: '转关时长（申报至核销，中位数）',
  carsInTransit: '在途车辆', transitTime: '江运时长', dwell: '堆场停留（进场至离港，中位数）', alertCounts: '告警',
  savings: '相对集装箱运输的节省', notAvailable: '接口未提供', hoursShort: '小时', vehiclesByState: '各状态车辆',
  theme: '底图', builtin: '内置（离线）', attribution: '版权',
};

export type Lang = 'zh-CN' | 'en';
const KEY = 'jianghai.lang';

export function defaultLang(nav: string | undefined): Lang {
  return nav && nav.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

let lang: Lang = (localStorage.getItem(KEY) as Lang | null) ?? defaultLang(navigator.language);

export function currentLang(): Lang { return lang; }
export function setLang(l: Lang) {
  lang = l;
  localStorage.setItem(KEY, l);
  document.documentElement.lang = l;
}
export function t(key: keyof Dict): string {
  return (lang === 'zh-CN' ? zh : en)[key];
}

const states: Record<string, [string, string]> = {
  registered: ['Registered', '已登记'], gated_in: ['Gated in', '已进场'], tallied: ['Tallied', '已理货'], declared: ['Declared', '已申报'],
  loaded: ['Loaded', '已装船'], departed: ['Departed', '已离港'], arrived: ['Arrived', '已抵港'], transit_closed: ['Transit closed', '转关已核销'],
  transshipped: ['Transshipped', '已中转'], exported: ['Exported', '已出口'], held: ['Held', '扣留'], returned: ['Returned', '已退回'],
  under_way: ['Under way', '航行中'], waiting_for_lock: ['Waiting for lock', '待闸'], in_lock: ['In lock', '过闸中'], berthed: ['Berthed', '靠泊'],
  anchored: ['At anchor', '锚泊'], open: ['Open', '未处理'], acknowledged: ['Acknowledged', '已确认'], resolved: ['Resolved', '已解除'],
  info: ['Info', '提示'], warning: ['Warning', '警告'], critical: ['Critical', '严重'],
  // EPCIS business steps on the timeline
  commissioning: ['Registered (commissioning)', '登记'], arriving: ['Arriving', '抵达'], inspecting: ['Inspecting (tally)', '查验（理货）'],
  declaring: ['Declaring', '申报'], loading: ['Loading', '装船'], departing: ['Departing', '离港'], closing_transit: ['Closing the transit', '转关核销'],
  transshipping: ['Transshipping', '中转'], shipping: ['Shipping', '出运'], holding: ['Holding', '扣留'], releasing: ['Releasing', '放行'],
  receiving: ['Receiving', '接收'], accepting: ['Accepting', '接收'], unloading: ['Unloading', '卸船'], returning: ['Returning', '退回'],
  closed: ['Closed', '已关闭'],
  // transit declarations (转关申报)
  'transit:declared': ['Declared', '已申报'], 'transit:released': ['Released', '已放行'], 'transit:held': ['Held', '已扣留'],
  'transit:arrived': ['Arrived', '已抵达'], 'transit:closed': ['Closed (核销)', '已核销'],
};
/** A state word from the API in the current language (the API word itself if unknown). */
export function word(s: string): string {
  const w = states[s];
  return w ? w[lang === 'zh-CN' ? 1 : 0] : s.replace(/_/g, ' ');
}

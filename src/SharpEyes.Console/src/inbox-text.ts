// The incident inbox's texts (both languages) and the words for what the gateway answers as codes: alarm priorities,
// incident type classes (Incident.type_class), GB/T 28181 alarm methods and video-analytics alarm types.
import { defineMessages } from './i18n';

export const text = defineMessages(
  {
    tab: '警情',
    tabCount: '警情 {count}',
    filterAll: '全部',
    filterOpen: '未关闭',
    filterAcknowledged: '已确认',
    filterClosed: '已关闭（近期）',
    empty: '没有警情',
    emptyFilter: '此筛选下没有警情',
    more: '另有 {count} 条未显示（按优先级和时间排在后面）',
    loadingClosed: '正在读取近期已关闭的警情……',
    mute: '一级警情提示音：开',
    unmute: '一级警情提示音：关',
    muteLabel: '一级警情的提示音',
    p1: '一级 紧急',
    p2: '二级 重要',
    p3: '三级 一般',
    p4: '四级 提示',
    stateNew: '新警情 · 未确认',
    stateAcknowledged: '已确认 · {who}',
    stateClosed: '已关闭 · {reason}',
    alarms: '{count} 条报警',
    alarm: '{count} 条报警',
    opened: '开始 {time}',
    ago: '{ago}',
    nowhere: '不在已导入的区域内',
    acknowledge: '确认接警',
    close: '关闭警情',
    note: '备注（可选）',
    confirmAcknowledge: '确认',
    cancel: '取消',
    reason: '关闭原因',
    reasonDetail: '说明',
    reasonRequired: '请选择关闭原因或填写说明',
    confirmClose: '关闭警情',
    reasonFalse: '误报',
    reasonHandled: '已到场处置',
    reasonDuplicate: '重复报警',
    reasonTest: '测试',
    reasonOther: '其他',
    failed: '操作失败：{message}',
    working: '正在提交……',
    readOnly: '只读：规划人员不能确认或关闭警情',
    // the detail panel
    detailTitle: '{type} · {place}',
    summary: '概况',
    priority: '优先级',
    type: '类型',
    state: '状态',
    openedAt: '开始时间',
    updatedAt: '最近报警',
    closedAt: '关闭时间',
    acknowledgedAt: '确认时间',
    ackNote: '确认备注',
    region: '区域',
    keySites: '重点部位',
    noKeySites: '附近没有重点部位',
    keySiteLine: '{name}（{category}，{distance}）',
    inside: '在部位内',
    metres: '{m} 米',
    alarmList: '报警',
    alarmDevice: '设备',
    noDescription: '（无描述）',
    olderAlarms: '更早的报警已按保留期删除',
    cameras: '看得到此处的摄像机',
    camerasLocated: '看得到此处的摄像机（按位置查得）',
    noCameras: '没有摄像机的视野覆盖此处',
    snapshot: '截图',
    hideSnapshot: '收起截图',
    noFrame: '尚无画面',
    snapshotTaken: '截图时间 {time}',
    snapshotFailed: '截图读取失败：{message}',
    showCamera: '查看摄像机',
    showOnMap: '在地图上显示',
    loadingDetail: '正在读取……',
    detailFailed: '读取失败：{message}',
    layer: '警情',
    legendP1: '一级警情（闪烁）',
    legendOther: '二至四级警情',
  },
  {
    tab: 'Incidents',
    tabCount: 'Incidents {count}',
    filterAll: 'All',
    filterOpen: 'Open',
    filterAcknowledged: 'Acknowledged',
    filterClosed: 'Closed (recent)',
    empty: 'No incidents',
    emptyFilter: 'No incidents under this filter',
    more: '{count} more not shown (lower priority or older)',
    loadingClosed: 'Reading recently closed incidents…',
    mute: 'P1 sound: on',
    unmute: 'P1 sound: off',
    muteLabel: 'The sound for priority-1 incidents',
    p1: 'P1 urgent',
    p2: 'P2 high',
    p3: 'P3 normal',
    p4: 'P4 low',
    stateNew: 'New · not acknowledged',
    stateAcknowledged: 'Acknowledged · {who}',
    stateClosed: 'Closed · {reason}',
    alarms: '{count} alarms',
    alarm: '{count} alarm',
    opened: 'opened {time}',
    ago: '{ago}',
    nowhere: 'outside every imported region',
    acknowledge: 'Acknowledge',
    close: 'Close',
    note: 'Note (optional)',
    confirmAcknowledge: 'Acknowledge',
    cancel: 'Cancel',
    reason: 'Reason for closing',
    reasonDetail: 'Details',
    reasonRequired: 'Choose a reason or write one',
    confirmClose: 'Close incident',
    reasonFalse: 'False alarm',
    reasonHandled: 'Handled on site',
    reasonDuplicate: 'Duplicate',
    reasonTest: 'Test',
    reasonOther: 'Other',
    failed: 'Failed: {message}',
    working: 'Sending…',
    readOnly: 'Read only: planners cannot acknowledge or close incidents',
    detailTitle: '{type} · {place}',
    summary: 'Summary',
    priority: 'Priority',
    type: 'Type',
    state: 'State',
    openedAt: 'Opened',
    updatedAt: 'Latest alarm',
    closedAt: 'Closed',
    acknowledgedAt: 'Acknowledged',
    ackNote: 'Note',
    region: 'Region',
    keySites: 'Key sites',
    noKeySites: 'No key site nearby',
    keySiteLine: '{name} ({category}, {distance})',
    inside: 'inside',
    metres: '{m} m',
    alarmList: 'Alarms',
    alarmDevice: 'Device',
    noDescription: '(no description)',
    olderAlarms: 'Older alarms were deleted by retention',
    cameras: 'Cameras that see it',
    camerasLocated: 'Cameras that see it (found by its position)',
    noCameras: 'No camera sees this point',
    snapshot: 'Snapshot',
    hideSnapshot: 'Hide snapshot',
    noFrame: 'No frame yet',
    snapshotTaken: 'taken {time}',
    snapshotFailed: 'Could not read the snapshot: {message}',
    showCamera: 'Show camera',
    showOnMap: 'Show on map',
    loadingDetail: 'Reading…',
    detailFailed: 'Could not read it: {message}',
    layer: 'Incidents',
    legendP1: 'Priority-1 incident (flashing)',
    legendOther: 'Priority 2–4 incident',
  },
);

const classes = defineMessages(
  {
    'va-intrusion': '入侵',
    'va-object': '物品遗留/移除',
    'va-crowd': '人员聚集',
    'device-fault': '设备故障',
    report: '群众报警',
    va: '视频报警：{type}',
    other: '{method}（类型 {type}）',
  },
  {
    'va-intrusion': 'Intrusion',
    'va-object': 'Object left or removed',
    'va-crowd': 'Crowd',
    'device-fault': 'Device fault',
    report: 'Public report',
    va: 'Video: {type}',
    other: '{method} (type {type})',
  },
);

/** GB/T 28181 alarm methods 1..7. */
const methods = defineMessages(
  { m1: '电话报警', m2: '设备报警', m3: '短信报警', m4: 'GPS 报警', m5: '视频分析报警', m6: '设备故障报警', m7: '其他报警', m0: '报警方式 {n}' },
  { m1: 'Phone alarm', m2: 'Device alarm', m3: 'SMS alarm', m4: 'GPS alarm', m5: 'Video analytics', m6: 'Device fault', m7: 'Other alarm', m0: 'Alarm method {n}' },
);

/** GB/T 28181 video-analytics alarm types (method 5) 1..12. */
const videoTypes = defineMessages(
  {
    t1: '人工视频报警', t2: '运动目标检测', t3: '遗留物检测', t4: '物体移除检测', t5: '绊线检测', t6: '入侵检测',
    t7: '逆行检测', t8: '徘徊检测', t9: '流量统计', t10: '密度检测', t11: '视频异常检测', t12: '快速移动', t0: '类型 {n}',
  },
  {
    t1: 'Manual video alarm', t2: 'Motion detection', t3: 'Object left behind', t4: 'Object removed', t5: 'Tripwire',
    t6: 'Intrusion', t7: 'Wrong way', t8: 'Loitering', t9: 'Flow count', t10: 'Density', t11: 'Video anomaly',
    t12: 'Fast movement', t0: 'type {n}',
  },
);

export function methodName(method: number): string {
  return method >= 1 && method <= 7 ? methods(`m${method}` as 'm1') : methods('m0', { n: String(method) });
}

export function alarmTypeName(method: number, type: number): string {
  if (method === 5) {
    return type >= 1 && type <= 12 ? videoTypes(`t${type}` as 't1') : videoTypes('t0', { n: String(type) });
  }
  return `${methodName(method)} · ${type}`;
}

/** Incident.type_class in words: va-intrusion, va-object, va-crowd, device-fault, report, va-<type>, m<method>-t<type>. */
export function typeClassName(typeClass: string): string {
  if (typeClass === 'va-intrusion' || typeClass === 'va-object' || typeClass === 'va-crowd' || typeClass === 'device-fault' || typeClass === 'report') {
    return classes(typeClass);
  }
  const va = /^va-(\d+)$/.exec(typeClass);
  if (va) {
    return classes('va', { type: alarmTypeName(5, Number(va[1])) });
  }
  const other = /^m(\d+)-t(\d+)$/.exec(typeClass);
  if (other) {
    return classes('other', { method: methodName(Number(other[1])), type: other[2] });
  }
  return typeClass;
}

export function priorityName(priority: number): string {
  return priority >= 1 && priority <= 4 ? text(`p${priority}` as 'p1') : `P${priority}`;
}

/** Colours by priority (always shown with the priority's words too). */
export const priorityColours: Record<number, { fill: string; ink: string }> = {
  1: { fill: '#c1121f', ink: '#ffffff' },
  2: { fill: '#e36414', ink: '#ffffff' },
  3: { fill: '#f2c14e', ink: '#10243e' },
  4: { fill: '#5c7a99', ink: '#ffffff' },
};
export const priorityColour = (priority: number) => priorityColours[priority] ?? priorityColours[4];

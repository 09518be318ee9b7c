// One client per protocol (旺店通 /openapi and its Qimen custom scenario, Qimen WMS, Kdniao,
// K3 Cloud) and the signatures each uses, written from docs/protocols/*.md.
'use strict';

const crypto = require('node:crypto');
const { Peer, RetryableError, PermanentError, checkStatus, parseJson } = require('./http');
const xml = require('./xml');

const md5 = (text) => crypto.createHash('md5').update(text, 'utf8').digest('hex');

// Wall-clock China time, `yyyy-MM-dd HH:mm:ss`: the request timestamps Qimen and TOP check.
function chinaNow() {
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

// docs/protocols/oms.md "Sign": md5(secret + sorted name+value of the query and `body` + secret).
function wdtSign(secret, params) {
  return md5(secret + joinSorted(params) + secret);
}

// Every parameter but `sign`, sorted by name, each name followed by its value.
function joinSorted(params) {
  return Object.keys(params)
    .filter((k) => k !== 'sign')
    .sort()
    .map((k) => k + params[k])
    .join('');
}

// docs/protocols/wms.md "Signing": UPPER(md5(secret + sorted k+v of the query + body + secret)).
function qimenSign(secret, params, body) {
  return md5(secret + joinSorted(params) + body + secret).toUpperCase();
}

// docs/protocols/carrier.md: base64 of the lower-hex md5 of RequestData + ApiKey.
function kdniaoSign(requestData, apiKey) {
  return Buffer.from(md5(requestData + apiKey), 'utf8').toString('base64');
}

// docs/protocols/oms.md, the Qimen custom scenario's `wdt_sign` serialization.
const WDT_SIGN_SKIPPED = new Set(['wdt3_customer_id', 'wdt_sign', 'target_app_key']);

function looksLikeJson(text) {
  const trimmed = text.trim();
  const wrapped =
    (trimmed.startsWith('{') && trimmed.endsWith('}')) ||
    (trimmed.startsWith('[') && trimmed.endsWith(']'));
  if (!wrapped) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {
    return undefined;
  }
}

function wdtSerialize(value, out) {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) wdtSerialize(item, out);
    }
  } else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value).sort()) {
      const item = value[key];
      if (WDT_SIGN_SKIPPED.has(key) || item === null || item === undefined) continue;
      out.push(key);
      if (typeof item === 'boolean' || typeof item === 'number') out.push(String(item));
      else if (typeof item === 'string') {
        const parsed = looksLikeJson(item);
        if (parsed === undefined) out.push(item);
        else wdtSerialize(parsed, out);
      } else wdtSerialize(item, out);
    }
  } else out.push(String(value));
  return out;
}

function wdtQimenSign(secret, fields) {
  return md5(secret + wdtSerialize(fields, []).join('') + secret);
}

// 旺店通旗舰版: `/openapi` for every platform but Taobao/Tmall, `/router/qm` for those.
class OmsClient {
  constructor(env, maxInFlight) {
    this.peer = new Peer(env.ECOMOCK_OMS_URL, maxInFlight);
    this.sid = env.ECOMOCK_OMS_SID;
    this.key = env.ECOMOCK_OMS_APP_KEY;
    const secret = env.ECOMOCK_OMS_APP_SECRET;
    const colon = secret.indexOf(':');
    this.secret = colon < 0 ? secret : secret.slice(0, colon);
    this.salt = colon < 0 ? '' : secret.slice(colon + 1);
    this.qimenKey = env.ECOMOCK_OMS_QIMEN_APP_KEY;
    this.qimenSecret = env.ECOMOCK_OMS_QIMEN_SECRET;
    this.qimenTarget = env.ECOMOCK_OMS_QIMEN_TARGET_APP_KEY;
  }

  // The simulated now, `yyyy-MM-dd HH:mm:ss` China time (docs/CONNECTORS.md).
  async clock() {
    const response = await this.peer.request('GET', '/_fake/clock');
    checkStatus(response, 'clock');
    return parseJson(response.text, 'clock').now_text;
  }

  async call(method, args, pager) {
    const body = JSON.stringify(args);
    const query = {
      sid: this.sid,
      key: this.key,
      salt: this.salt,
      method,
      timestamp: String(Math.floor(Date.now() / 1000) - 1325347200),
      v: '1.0',
    };
    if (pager) Object.assign(query, { page_size: String(pager[0]), page_no: String(pager[1]), calc_total: '1' });
    query.sign = wdtSign(this.secret, { ...query, body });
    const response = await this.peer.request('POST', '/openapi', {
      query,
      body,
      headers: { 'Content-Type': 'application/json' },
    });
    checkStatus(response, method);
    return omsAnswer(method, parseJson(response.text, method));
  }

  // One page of queryWithDetail through the Qimen custom scenario (TOP form post).
  async qimenTradePage(params, pageSize, pageNo) {
    const method = 'wdt.sales.tradequery.querywithdetail';
    const now = chinaNow();
    const fields = {
      datetime: now,
      wdt_appkey: this.key,
      wdt_salt: this.salt,
      params: JSON.stringify(params),
      pager: JSON.stringify({ page_size: pageSize, page_no: pageNo }),
    };
    fields.wdt_sign = wdtQimenSign(this.secret, { ...fields, method });
    const form = {
      app_key: this.qimenKey,
      method,
      timestamp: now,
      v: '2.0',
      sign_method: 'md5',
      format: 'json',
      target_app_key: this.qimenTarget,
      wdt3_customer_id: this.sid,
      ...fields,
    };
    // TOP's sign: as Qimen's, with no body (every field is in the form).
    form.sign = qimenSign(this.qimenSecret, form, '');
    const response = await this.peer.request('POST', '/router/qm', {
      body: new URLSearchParams(form).toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8' },
    });
    checkStatus(response, method);
    const answer = parseJson(response.text, method);
    if (answer.error_response) {
      const { code, msg } = answer.error_response;
      const message = `${method}: TOP ${code} ${msg}`;
      // 7 call limit, 15 remote service error, 25 a signature refused (how a gateway's
      // session trouble shows, docs/CHAOS.md): worth another try; the rest are our fault.
      if ([7, 15, 25].includes(Number(code))) throw new RetryableError(message);
      throw new PermanentError(message);
    }
    return omsAnswer(method, answer.response || {});
  }

  // Every trade of a window in both channels (page_no from 0).
  async tradesIn(start, end, status) {
    const params = { start_time: start, end_time: end, status };
    return [
      ...(await allPages((no) => this.call('sales.TradeQuery.queryWithDetail', [params], [PAGE_SIZE, no]))),
      ...(await allPages((no) => this.qimenTradePage(params, PAGE_SIZE, no))),
    ];
  }

  // Return refunds (type 2) sent back by the buyer (40) modified in a window.
  // Return refunds (type 2) of any status: those whose goods are on the way back (40) are
  // carried, the others tell which trades are being returned.
  async returnRefundsIn(start, end) {
    const params = { modified_from: start, modified_to: end, type: 2 };
    return allPages((no) => this.call('aftersales.refund.Refund.search', [params], [PAGE_SIZE, no]));
  }
}

const PAGE_SIZE = 100;

// Pages from 0 until `total_count` rows were read (or a page comes back empty).
async function allPages(fetchPage) {
  const rows = [];
  for (let no = 0; no < 10000; no += 1) {
    const data = (await fetchPage(no)).data || {};
    const page = data.order || [];
    rows.push(...page);
    if (!page.length || rows.length >= Number(data.total_count || 0)) break;
  }
  return rows;
}

// `status` 0 is success; 7, 99, the per-minute limits (calls, concurrency) and an auth
// refusal (a credential's session trouble, docs/CHAOS.md) are worth another try.
function omsAnswer(method, answer) {
  if (answer.status === 0) return answer;
  const message = `${method}: status ${answer.status} ${answer.message || ''}`;
  if (answer.status === 7 || answer.status === 99) throw new RetryableError(message);
  if (answer.status === 100 && /超过每分钟最大/.test(answer.message || '')) {
    throw new RetryableError(message);
  }
  if (answer.status === 1 && answer.message === 'app auth fail') throw new RetryableError(message);
  throw new PermanentError(message);
}

// Qimen WMS: XML documents at `/router/qimen/service`.
class QimenClient {
  constructor(env, maxInFlight) {
    this.peer = new Peer(env.ECOMOCK_WMS_URL, maxInFlight);
    this.appKey = env.ECOMOCK_WMS_APP_KEY;
    this.secret = env.ECOMOCK_WMS_SECRET;
    this.customerId = env.ECOMOCK_WMS_CUSTOMER_ID;
  }

  async call(name, body) {
    const method = `taobao.qimen.${name}`;
    const query = {
      method,
      timestamp: chinaNow(),
      format: 'xml',
      app_key: this.appKey,
      v: '2.0',
      sign_method: 'md5',
      customerId: this.customerId,
    };
    query.sign = qimenSign(this.secret, query, body);
    const response = await this.peer.request('POST', '/router/qimen/service', {
      query,
      body,
      headers: { 'Content-Type': 'text/xml;charset=utf-8' },
    });
    checkStatus(response, method);
    let root;
    try {
      root = xml.parse(response.text);
    } catch (error) {
      throw new RetryableError(`${method}: unreadable answer (${error.message})`);
    }
    if (xml.text(root, 'flag') === 'success') return root;
    const code = xml.text(root, 'code');
    const message = `${method}: ${code} ${xml.text(root, 'message')}`;
    // TOP's ban names its length: "This ban will last for N more seconds".
    const ban = /(\d+) more seconds/.exec(xml.text(root, 'message'));
    if (code === 'accesscontrol.limited-by-api-access-count') {
      throw new RetryableError(message, ban ? Number(ban[1]) : null);
    }
    const transient = ['SYSTEM_ERROR', 'SYSTEM_BUSY', 'TIMEOUT', 'sign-check-failure'];
    if (/^isp\./.test(code) || transient.includes(code)) throw new RetryableError(message);
    const error = new PermanentError(message);
    error.code = code;
    throw error;
  }
}

// Kdniao: form posts, `DataSign` over RequestData.
class KdniaoClient {
  constructor(env, maxInFlight) {
    this.peer = new Peer(env.ECOMOCK_CARRIER_URL, maxInFlight);
    this.id = env.ECOMOCK_CARRIER_EBUSINESS_ID;
    this.apiKey = env.ECOMOCK_CARRIER_API_KEY;
  }

  async call(path, requestType, data) {
    const requestData = JSON.stringify(data);
    const form = new URLSearchParams({
      RequestData: requestData,
      EBusinessID: this.id,
      RequestType: requestType,
      DataSign: kdniaoSign(requestData, this.apiKey),
      DataType: '2',
    });
    const response = await this.peer.request('POST', path, {
      body: form.toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8' },
    });
    checkStatus(response, `kdniao ${requestType}`);
    const answer = parseJson(response.text, `kdniao ${requestType}`);
    if (answer.Success === true) return answer;
    const message = `kdniao ${requestType}: ${answer.ResultCode} ${answer.Reason || ''}`;
    // 105 is Kdniao's catch-all (also "try later"), 405 a query limit, 104 how an account's
    // trouble shows: each may pass later.
    if (['104', '105', '405'].includes(answer.ResultCode)) throw new RetryableError(message);
    throw new PermanentError(message);
  }
}

// K3 Cloud WebAPI: a password login (session cookie), then DynamicFormService calls.
const STUB = (name) => `/Kingdee.BOS.WebApi.ServicesStub.${name}.common.kdsvc`;
// A refusal for a lost session comes before any work, so repeating is safe; in a storm the
// fresh session may die too (other calls share it), so a few more tries than one.
const RELOGINS_PER_CALL = 10;

class K3Client {
  constructor(env, maxInFlight) {
    this.peer = new Peer(env.ECOMOCK_ERP_URL, maxInFlight);
    this.login = {
      acctID: env.ECOMOCK_ERP_ACCT_ID,
      username: env.ECOMOCK_ERP_USERNAME,
      password: env.ECOMOCK_ERP_PASSWORD,
      lcid: Number(env.ECOMOCK_ERP_LCID || 2052),
    };
    this.session = null; // one login shared by every call; replaced when K3 says it is lost
  }

  async ensureSession(stale) {
    if (this.session && this.session !== stale) return this.session;
    if (!this.loggingIn) {
      this.loggingIn = (async () => {
        const response = await this.peer.request('POST', STUB('AuthService.ValidateUser'), {
          body: JSON.stringify(this.login),
          headers: { 'Content-Type': 'application/json' },
        });
        checkStatus(response, 'ValidateUser');
        const answer = parseJson(response.text, 'ValidateUser');
        // A busy K3 refuses logins too: the graded retries decide when to give up.
        if (answer.LoginResultType !== 1) throw new RetryableError(`K3 login: ${answer.Message}`);
        this.session = answer.KDSVCSessionId;
        return this.session;
      })().finally(() => {
        this.loggingIn = null;
      });
    }
    return this.loggingIn;
  }

  // One DynamicFormService operation; MsgCode 1 (context lost) logs in again and repeats.
  async call(op, body) {
    for (let relogins = 0; ; relogins += 1) {
      const session = await this.ensureSession(null);
      const response = await this.peer.request('POST', STUB(`DynamicFormService.${op}`), {
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', 'kdservice-sessionid': session },
      });
      checkStatus(response, op);
      const answer = parseJson(response.text, op);
      const status = responseStatus(answer);
      if (status && status.MsgCode === 1 && status.IsSuccess === false) {
        if (relogins >= RELOGINS_PER_CALL) throw new RetryableError(`${op}: session lost again`);
        await this.ensureSession(session);
        continue;
      }
      return answer;
    }
  }

  // The bill's FDocumentStatus, or null when it does not exist.
  async billStatus(formId, billNo) {
    const answer = await this.call('ExecuteBillQuery', {
      data: {
        FormId: formId,
        FieldKeys: 'FBillNo,FDocumentStatus',
        FilterString: `FBillNo = '${billNo.replace(/'/g, "''")}'`,
      },
    });
    const status = responseStatus(answer);
    if (status) throw k3Error(`ExecuteBillQuery ${formId}`, status);
    return answer.length ? answer[0][1] : null;
  }

  // Save → Submit → Audit, continuing from wherever an earlier attempt stopped: one query
  // first, then each operation moves the bill on (fewer calls, fewer chances to meet a
  // dying session); a refusal saying someone got there first reads the status again.
  async postAudited(formId, model) {
    const billNo = model.FBillNo;
    let status = await this.billStatus(formId, billNo);
    for (let pass = 0; pass < 6; pass += 1) {
      if (status === 'C') return;
      let op;
      let data;
      if (status === null) [op, data] = ['Save', { Model: model }];
      else if (status === 'B') [op, data] = ['Audit', { Numbers: [billNo] }];
      else [op, data] = ['Submit', { Numbers: [billNo] }];
      const answer = await this.call(op, { formid: formId, data });
      const result = responseStatus(answer);
      if (result.IsSuccess) {
        status = { Save: 'A', Submit: 'B', Audit: 'C' }[op];
        continue;
      }
      const messages = (result.Errors || []).map((e) => e.Message || '').join('; ');
      // A lost answer of ours got there first.
      if (/单据编号\[.*\]已存在|不允许重复提交|不允许重复审核|已审核，不允许提交/.test(messages)) {
        status = await this.billStatus(formId, billNo);
        continue;
      }
      throw k3Error(`${op} ${formId} ${billNo}`, result);
    }
    throw new RetryableError(`${formId} ${billNo}: not audited after six operations`);
  }
}

function responseStatus(answer) {
  if (Array.isArray(answer)) {
    const first = answer[0] && answer[0][0];
    return first && first.Result ? first.Result.ResponseStatus : null;
  }
  return answer && answer.Result ? answer.Result.ResponseStatus : null;
}

function k3Error(what, status) {
  const messages = (status.Errors || []).map((e) => e.Message).join('; ');
  const message = `${what}: MsgCode ${status.MsgCode} ${messages}`;
  // 13 a network-control conflict (busy), 14 the call limit, 0 an internal fault: all pass.
  if ([0, 13, 14].includes(status.MsgCode)) return new RetryableError(message);
  return new PermanentError(message);
}

module.exports = {
  OmsClient,
  QimenClient,
  KdniaoClient,
  K3Client,
  qimenSign,
  kdniaoSign,
  wdtSign,
  wdtQimenSign,
  chinaNow,
};

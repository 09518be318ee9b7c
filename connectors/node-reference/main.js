// ecomock's second reference connector: the sales-order flow of docs/CONTRACT.md in Node.js
// with the standard library only. Start: `node main.js` with the ECOMOCK_* environment.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { OmsClient, QimenClient, KdniaoClient, K3Client, qimenSign, kdniaoSign, chinaNow } =
  require('./clients');
const { RetryableError } = require('./http');
const { Store } = require('./store');
const mapping = require('./mapping');
const aftersales = require('./aftersales');
const xml = require('./xml');

const REQUIRED = [
  'ECOMOCK_OMS_URL', 'ECOMOCK_OMS_SID', 'ECOMOCK_OMS_APP_KEY', 'ECOMOCK_OMS_APP_SECRET',
  'ECOMOCK_OMS_QIMEN_APP_KEY', 'ECOMOCK_OMS_QIMEN_SECRET', 'ECOMOCK_OMS_QIMEN_TARGET_APP_KEY',
  'ECOMOCK_WMS_URL', 'ECOMOCK_WMS_APP_KEY', 'ECOMOCK_WMS_SECRET', 'ECOMOCK_WMS_CUSTOMER_ID',
  'ECOMOCK_CARRIER_URL', 'ECOMOCK_CARRIER_EBUSINESS_ID', 'ECOMOCK_CARRIER_API_KEY',
  'ECOMOCK_ERP_URL', 'ECOMOCK_ERP_ACCT_ID', 'ECOMOCK_ERP_USERNAME', 'ECOMOCK_ERP_PASSWORD',
  'ECOMOCK_CONNECTOR_PORT', 'ECOMOCK_STATE_DIR', 'ECOMOCK_TIME_SCALE',
];
// Graded retries, in simulated minutes (divided by the time scale for the wall wait).
const RETRY_MINUTES = [1, 5, 15, 30, 60];
const WINDOW_SECONDS = 3600; // queryWithDetail refuses windows over 60 minutes
const FIRST_LOOKBACK_SECONDS = 3600;
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const STEPS = [
  'waybill', 'subscribe', 'wms_create', 'oms_shipped', 'erp_outstock', 'erp_receivable', 'oms_completed',
  ...aftersales.STEPS,
];

function log(level, message) {
  process.stdout.write(`${new Date().toISOString()} ${level} ${message}\n`);
}

function settings(env) {
  const missing = REQUIRED.filter((name) => !env[name]);
  if (missing.length) {
    process.stderr.write(`missing environment variable(s): ${missing.join(', ')}\n`);
    process.exit(2);
  }
  const number = (name, fallback) => {
    const raw = env[name] ?? String(fallback);
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      process.stderr.write(`${name} must be a positive number, not ${JSON.stringify(raw)}\n`);
      process.exit(2);
    }
    return value;
  };
  const skipped = (env.NODE_REFERENCE_SKIP_STEPS || '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = skipped.filter((step) => !STEPS.includes(step));
  if (unknown.length) {
    process.stderr.write(`NODE_REFERENCE_SKIP_STEPS: unknown step(s) ${unknown.join(', ')}; steps: ${STEPS.join(', ')}\n`);
    process.exit(2);
  }
  return {
    port: number('ECOMOCK_CONNECTOR_PORT'),
    scale: number('ECOMOCK_TIME_SCALE'),
    pollSeconds: number('NODE_REFERENCE_POLL_SECONDS', 0.25),
    overlapSeconds: number('NODE_REFERENCE_OVERLAP_SECONDS', 2),
    maxInFlight: number('NODE_REFERENCE_MAX_IN_FLIGHT', 16),
    skipped: new Set(skipped),
  };
}

// `yyyy-MM-dd HH:mm:ss` (simulated China time) plus seconds, as text again.
function shiftText(text, seconds) {
  const ms = Date.parse(`${text.replace(' ', 'T')}Z`) + seconds * 1000;
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function secondsBetween(from, to) {
  return (Date.parse(`${to.replace(' ', 'T')}Z`) - Date.parse(`${from.replace(' ', 'T')}Z`)) / 1000;
}

class Connector {
  constructor(env) {
    this.env = env;
    this.config = settings(env);
    this.store = new Store(env.ECOMOCK_STATE_DIR);
    this.oms = new OmsClient(env, this.config.maxInFlight);
    this.wms = new QimenClient(env, this.config.maxInFlight);
    this.carrier = new KdniaoClient(env, this.config.maxInFlight);
    this.erp = new K3Client(env, this.config.maxInFlight);
    this.running = new Set(); // `${trade_no}:${step}` under way in this process
    // Trades with a return refund (type 2, any status) seen by a poll: a refund of every line of
    // such a trade is that return, never a cancellation after picking.
    this.returning = new Set();
    this.timers = new Set();
    this.stopping = false;
    this.counts = {
      trades: 0, cancelled: 0, returns: 0, done: 0, retries: 0, parked: 0, pushes: 0, duplicates: 0, refused: 0,
    };
    this.log = log;
  }

  // ---- steps ---------------------------------------------------------------------------

  stepState(id, step) {
    const entry = this.store.entity(id);
    return (entry && entry.steps[step]) || null;
  }

  isDone(tradeNo, step) {
    const state = this.stepState(tradeNo, step);
    return Boolean(state && state.status === 'done');
  }

  // Run one step to its end: done, or parked after the graded retries or a refusal.
  async run(tradeNo, step) {
    const key = `${tradeNo}:${step}`;
    const state = this.stepState(tradeNo, step);
    if (this.stopping || this.running.has(key) || (state && state.status !== 'pending')) return;
    this.running.add(key);
    try {
      let attempts = state ? state.attempts : 0;
      // A wait announced before a restart is still owed (a Retry-After, a ban).
      if (state && state.notBefore > Date.now()) await this.sleep((state.notBefore - Date.now()) / 1000);
      for (;;) {
        if (this.stopping) return;
        if (this.isDone(tradeNo, step)) return; // a confirm may prove a create arrived
        if (aftersales.blocked(this, tradeNo, step)) {
          // Cancelled: what was not done stays undone (and is not resumed).
          this.store.record({ t: 'step', trade_no: tradeNo, step, state: { status: 'stopped', attempts } });
          return;
        }
        attempts += 1;
        this.store.record({ t: 'step', trade_no: tradeNo, step, state: { status: 'pending', attempts } });
        try {
          if (!this.config.skipped.has(step)) await this.perform(tradeNo, step);
          this.store.record({ t: 'step', trade_no: tradeNo, step, state: { status: 'done', attempts } });
          this.counts.done += 1;
          break;
        } catch (error) {
          const retryable = error instanceof RetryableError;
          if (!retryable || attempts > RETRY_MINUTES.length) {
            this.store.record({
              t: 'step', trade_no: tradeNo, step,
              state: { status: 'failed', attempts, error: String(error.message || error) },
            });
            this.counts.parked += 1;
            log('ERROR', `${tradeNo} ${step} parked after ${attempts} attempt(s): ${error.message || error}`);
            return;
          }
          const graded = (RETRY_MINUTES[attempts - 1] * 60) / this.config.scale;
          const wait = Math.max(graded, error.retryAfterSeconds || 0);
          this.counts.retries += 1;
          log('WARNING', `${tradeNo} ${step} attempt ${attempts} failed (${error.message}); again in ${wait.toFixed(2)} s`);
          const notBefore = Date.now() + wait * 1000;
          this.store.record({ t: 'step', trade_no: tradeNo, step, state: { status: 'pending', attempts, notBefore } });
          await this.sleep(wait);
        }
      }
    } finally {
      this.running.delete(key);
    }
    this.next(tradeNo, step);
  }

  // What a finished step starts.
  next(tradeNo, step) {
    if (step === 'waybill') {
      this.run(tradeNo, 'subscribe');
      this.run(tradeNo, 'wms_create');
    } else if (step === 'oms_shipped' && this.stepState(tradeNo, 'oms_completed')) {
      this.run(tradeNo, 'oms_completed');
    } else {
      aftersales.next(this, tradeNo, step);
    }
  }

  async perform(tradeNo, step) {
    if (aftersales.STEPS.includes(step)) {
      await aftersales.perform(this, tradeNo, step);
      return;
    }
    const entry = this.store.trades.get(tradeNo);
    const { trade } = entry;
    switch (step) {
      case 'waybill': {
        const answer = await this.carrier.call('/api/EOrderService', '1007', mapping.waybillRequest(trade));
        this.store.record({ t: 'waybill', trade_no: tradeNo, waybill: answer.Order.LogisticCode });
        return;
      }
      case 'subscribe':
        await this.carrier.call('/api/dist', '1008', {
          ShipperCode: mapping.shipperCode(trade),
          LogisticCode: entry.waybill,
          OrderCode: tradeNo,
        });
        return;
      case 'wms_create':
        await this.wms.call('deliveryorder.create', mapping.deliveryOrderXml(trade, entry.waybill));
        return;
      case 'oms_shipped': {
        const packages = this.packages(entry);
        if (!packages) {
          await this.oms.call('ecomock.Trade.ship', [{
            trade_no: tradeNo,
            logistics_code: entry.shipment.logisticsCode || trade.logistics_code,
            logistics_no: entry.shipment.expressCode || entry.waybill,
          }]);
          return;
        }
        // Shipped in packages (拆单发货): each one with its own waybill, the first first (the
        // OMS makes it the trade's); a package marked before is a no-op.
        for (const parcel of packages) {
          await this.oms.call('ecomock.Trade.ship', [mapping.packageShip(trade, parcel)]);
        }
        return;
      }
      case 'erp_outstock':
        this.packages(entry); // a split order is booked once all its packages are in
        await this.erp.postAudited('SAL_OUTSTOCK', mapping.outstockModel(trade, entry.shipment));
        return;
      case 'erp_receivable':
        await this.erp.postAudited('AR_receivable', mapping.receivableModel(trade, entry.shipment));
        return;
      case 'oms_completed':
        await this.oms.call('ecomock.LogisticsTrace.upload', [{
          trade_no: tradeNo,
          logistics_no: entry.shipment.expressCode || entry.waybill,
          state: 3,
        }]);
        return;
      default:
        throw new Error(`unknown step ${step}`);
    }
  }

  // The packages of an order shipped in several (the partial confirms', then the final's), or
  // null for one shipped whole. A final confirm with fewer units than the trade is a last
  // package whose partial confirm is still on its way (a lost push comes back): wait.
  packages(entry) {
    const parcels = [...(entry.packages || []), entry.shipment.parcel].filter(Boolean);
    const units = (parcel) => parcel.lines.reduce((sum, l) => sum + Number(l.actualQty), 0);
    const ordered = (entry.trade.detail_list || []).reduce((sum, l) => sum + Number(l.num), 0);
    const shipped = parcels.reduce((sum, parcel) => sum + units(parcel), 0);
    if (!entry.packages && (!entry.shipment.parcel || shipped >= ordered)) return null;
    if (shipped < ordered) {
      throw new RetryableError(`${entry.trade.trade_no}: ${shipped} of ${ordered} units confirmed`);
    }
    return parcels;
  }

  // After a restart: every step that was under way or due goes on.
  resume() {
    for (const [id, entry] of [...this.store.trades, ...this.store.refunds]) {
      for (const [step, state] of Object.entries(entry.steps)) {
        if (state.status === 'pending') this.run(id, step);
      }
    }
    for (const [refundNo, entry] of this.store.refunds) {
      if (entry.receipt) {
        this.run(refundNo, 'erp_return');
        this.run(refundNo, 'erp_red');
      }
    }
    for (const [tradeNo, entry] of this.store.trades) {
      if (!this.isDone(tradeNo, 'waybill')) {
        this.run(tradeNo, 'waybill');
        continue;
      }
      if (entry.cancelled) continue;
      if (!entry.shipment) {
        this.run(tradeNo, 'subscribe');
        this.run(tradeNo, 'wms_create');
        continue;
      }
      this.run(tradeNo, 'subscribe');
      for (const step of ['oms_shipped', 'erp_outstock', 'erp_receivable']) this.run(tradeNo, step);
      if (this.stepState(tradeNo, 'oms_completed') && this.isDone(tradeNo, 'oms_shipped')) {
        this.run(tradeNo, 'oms_completed');
      }
    }
  }

  // ---- polling -------------------------------------------------------------------------

  async pollOnce() {
    const now = await this.oms.clock();
    const cursor = this.store.cursor || shiftText(now, -FIRST_LOOKBACK_SECONDS);
    let from = shiftText(cursor, -this.config.overlapSeconds);
    const end = shiftText(now, 1); // end_time is exclusive
    while (secondsBetween(from, end) > 0) {
      const to = secondsBetween(from, end) > WINDOW_SECONDS ? shiftText(from, WINDOW_SECONDS) : end;
      // Return refunds read first: a trade being returned is known before its lines (every one
      // refund-applied) are judged, even when the carrier's signed push has not reached us yet;
      // else a lagging connector reads it as cancelled after picking and refuses its return.
      const refunds = await this.oms.returnRefundsIn(from, to);
      for (const refund of refunds) this.returning.add(refund.trade_no);
      // 5 and 95 too: cancellations, and requests to cancel a trade already marked shipped.
      const trades = await this.oms.tradesIn(from, to, '5,30,95');
      for (const trade of trades) this.accept(trade);
      // Carried last: a return whose trade came in this same window is then known.
      for (const refund of refunds) aftersales.onPolledRefund(this, refund);
      from = to;
    }
    this.store.record({ t: 'cursor', cursor: now });
  }

  accept(trade) {
    if (this.store.trades.has(trade.trade_no)) {
      aftersales.onPolledTrade(this, trade);
      return;
    }
    // Never send a trade already cancelled, or whose cancellation the buyer asked.
    if (Number(trade.trade_status) !== 30 || aftersales.cancelRequested(trade)) return;
    this.store.record({ t: 'trade', trade });
    this.counts.trades += 1;
    this.run(trade.trade_no, 'waybill');
  }

  async pollLoop() {
    while (!this.stopping) {
      try {
        await this.pollOnce();
      } catch (error) {
        log('WARNING', `poll: ${error.message || error}`);
      }
      await this.sleep(this.config.pollSeconds);
    }
  }

  sleep(seconds) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, seconds * 1000);
      this.timers.add(timer);
    });
  }

  // ---- pushes --------------------------------------------------------------------------

  // Qimen deliveryorder.confirm: verified, stored, then acknowledged; the work runs after.
  onWmsPush(query, body) {
    const params = Object.fromEntries(query);
    if (params.app_key !== this.env.ECOMOCK_WMS_APP_KEY || !params.sign ||
        !safeEqual(params.sign, qimenSign(this.env.ECOMOCK_WMS_SECRET, params, body))) {
      this.counts.refused += 1;
      log('ERROR', `refused a WMS push with a wrong signature (${params.method})`);
      return qimenAnswer('failure', 'sign-check-failure', 'Illegal request');
    }
    const returns = params.method === 'taobao.qimen.returnorder.confirm';
    if (params.method !== 'taobao.qimen.deliveryorder.confirm' && !returns) {
      return qimenAnswer('success', '0', 'ok');
    }
    const root = xml.parse(body);
    if (returns) {
      const returnKey = `wms:${xml.text(root, 'returnOrder/outBizCode')}`;
      this.counts.pushes += 1;
      if (this.store.inbox.has(returnKey)) this.counts.duplicates += 1;
      else aftersales.onReturnConfirm(this, root, returnKey);
      return qimenAnswer('success', '0', 'ok');
    }
    const order = (name) => xml.text(root, `deliveryOrder/${name}`);
    const key = `wms:${order('outBizCode') || `${order('deliveryOrderId')}-${order('status')}`}`;
    this.counts.pushes += 1;
    if (this.store.inbox.has(key)) {
      this.counts.duplicates += 1;
      return qimenAnswer('success', '0', 'ok');
    }
    const tradeNo = order('deliveryOrderCode');
    const entry = this.store.trades.get(tradeNo);
    if (!entry || entry.trade.owner_code !== order('ownerCode')) {
      log('ERROR', `a confirm for ${order('ownerCode')}/${tradeNo}, not a trade of ours`);
      this.store.record({ t: 'inbox', key });
      return qimenAnswer('success', '0', 'ok');
    }
    const lines = xml.findAll(root, 'orderLines/orderLine').map((line) => ({
      orderLineNo: xml.text(line, 'orderLineNo'),
      itemCode: xml.text(line, 'itemCode'),
      actualQty: xml.text(line, 'actualQty'),
    }));
    // This confirm's own parcel: its waybill (the first package's is the order's own).
    const parcel = lines.length ? {
      logisticsCode: xml.text(root, 'packages/package/logisticsCode') || order('logisticsCode'),
      expressCode: xml.text(root, 'packages/package/expressCode') || order('expressCode'),
      lines,
    } : null;
    if (order('confirmType') && order('confirmType') !== '0') {
      // A split order's first package: marked in the OMS with the last one (oms_shipped), in
      // order; its lines count, the final confirm books them all.
      this.store.record({ t: 'partial', trade_no: tradeNo, lines, ...(parcel ? { package: parcel } : {}) });
      this.store.record({ t: 'inbox', key });
      return qimenAnswer('success', '0', 'ok');
    }
    const shipment = {
      warehouseCode: order('warehouseCode'),
      logisticsCode: order('logisticsCode'),
      expressCode: order('expressCode') || xml.text(root, 'packages/package/expressCode'),
      orderConfirmTime: order('orderConfirmTime'),
      // Each confirm's actualQty is what that package shipped: the parts add up.
      lines: [...(entry.partials || []), ...lines],
      parcel,
    };
    this.store.record({ t: 'shipment', trade_no: tradeNo, shipment });
    if (!this.isDone(tradeNo, 'wms_create')) {
      // The confirm proves the create arrived, even if its answer did not.
      this.store.record({ t: 'step', trade_no: tradeNo, step: 'wms_create', state: { status: 'done', attempts: 0 } });
    }
    this.store.record({ t: 'inbox', key });
    // A cancelled trade's parcel left all the same: nothing is marked shipped or booked.
    if (!entry.cancelled) {
      setImmediate(() => {
        for (const step of ['oms_shipped', 'erp_outstock', 'erp_receivable']) this.run(tradeNo, step);
      });
    }
    return qimenAnswer('success', '0', 'ok');
  }

  // Kdniao 101/102: a signed parcel (State 3) completes its trade once it is marked shipped.
  onCarrierPush(form) {
    const requestData = form.get('RequestData') || '';
    const sign = form.get('DataSign') || '';
    const expected = kdniaoSign(requestData, this.env.ECOMOCK_CARRIER_API_KEY);
    if (!safeEqual(sign, expected) && !safeEqual(safeDecode(sign), expected)) {
      this.counts.refused += 1;
      log('ERROR', 'refused a carrier push with a wrong DataSign');
      return { status: 200, body: kdniaoAnswer(this.env, false, 'DataSign 不正确') };
    }
    const data = JSON.parse(requestData);
    for (const item of data.Data || []) {
      this.counts.pushes += 1;
      const key = `kd:${item.LogisticCode}:${item.State}:${item.StateEx || ''}`;
      if (this.store.inbox.has(key)) {
        this.counts.duplicates += 1;
        continue;
      }
      const tradeNo = this.store.byWaybill.get(item.LogisticCode);
      if (String(item.State) === '3' && tradeNo && !this.stepState(tradeNo, 'oms_completed')) {
        this.store.record({ t: 'step', trade_no: tradeNo, step: 'oms_completed', state: { status: 'pending', attempts: 0 } });
        if (this.isDone(tradeNo, 'oms_shipped')) setImmediate(() => this.run(tradeNo, 'oms_completed'));
      }
      this.store.record({ t: 'inbox', key });
    }
    return { status: 200, body: kdniaoAnswer(this.env, true, '') };
  }

  // ---- the callback server -------------------------------------------------------------

  serve() {
    this.server = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/health') {
        return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
      }
      if (req.method !== 'POST' || !['/qimen/callback', '/kdniao/push'].includes(url.pathname)) {
        return send(res, 404, 'text/plain', 'not found');
      }
      const chunks = [];
      let size = 0;
      req.on('data', (chunk) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) req.destroy();
        else chunks.push(chunk);
      });
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        try {
          if (url.pathname === '/qimen/callback') {
            send(res, 200, 'text/xml;charset=utf-8', this.onWmsPush(url.searchParams, body));
          } else {
            const answer = this.onCarrierPush(new URLSearchParams(body));
            send(res, answer.status, 'application/json', answer.body);
          }
        } catch (error) {
          // Not stored, so not acknowledged: the pusher sends it again.
          log('ERROR', `push to ${url.pathname} not taken: ${error.stack || error}`);
          if (url.pathname === '/qimen/callback') {
            send(res, 200, 'text/xml;charset=utf-8', qimenAnswer('failure', 'SYSTEM_ERROR', String(error.message)));
          } else {
            send(res, 500, 'application/json', kdniaoAnswer(this.env, false, String(error.message)));
          }
        }
      });
    });
    return new Promise((resolve) => this.server.listen(this.config.port, '127.0.0.1', resolve));
  }

  async start() {
    await this.serve();
    log('INFO', `listening on 127.0.0.1:${this.config.port}; ${this.store.trades.size} trade(s) in the journal`);
    this.resume();
    this.summary = setInterval(() => log('INFO', `summary ${JSON.stringify(this.counts)}`), 5000);
    this.pollLoop();
  }

  stop(signal) {
    if (this.stopping) return;
    this.stopping = true;
    log('INFO', `${signal}: stopping (pending steps stay in the journal)`);
    clearInterval(this.summary);
    for (const timer of this.timers) clearTimeout(timer);
    this.server.close();
    this.store.close();
    process.exit(0);
  }
}

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type });
  res.end(body);
}

function qimenAnswer(flag, code, message) {
  return `<?xml version="1.0" encoding="utf-8"?><response><flag>${flag}</flag><code>${xml.escape(code)}</code><message>${xml.escape(message)}</message></response>`;
}

function kdniaoAnswer(env, success, reason) {
  return JSON.stringify({
    EBusinessID: env.ECOMOCK_CARRIER_EBUSINESS_ID,
    UpdateTime: chinaNow(),
    Success: success,
    Reason: reason,
  });
}

function safeEqual(a, b) {
  const left = Buffer.from(String(a));
  const right = Buffer.from(String(b));
  return left.length === right.length && crypto.timingSafeEqual(left, right);
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

if (require.main === module) {
  const connector = new Connector(process.env);
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => connector.stop(signal));
  connector.start().catch((error) => {
    log('ERROR', `cannot start: ${error.stack || error}`);
    process.exit(1);
  });
}

module.exports = { Connector, shiftText };

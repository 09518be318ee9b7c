// After-sales, as docs/CONTRACT.md describes it: cancellations before shipment (order.cancel),
// after picking (CANCELEDFAIL: a Kdniao 1816 interception), and returns after delivery
// (returnorder.create, the return confirm, SAL_RETURNSTOCK, a red receivable, confirmReturn).
'use strict';

const { PermanentError } = require('./http');
const mapping = require('./mapping');
const xml = require('./xml');

// The steps of a sale, which a cancellation stops wherever they are.
const SALE_STEPS = new Set([
  'waybill', 'subscribe', 'wms_create', 'oms_shipped', 'erp_outstock', 'erp_receivable', 'oms_completed',
]);
const STEPS = ['wms_cancel', 'intercept', 'return_create', 'erp_return', 'erp_red', 'refund_settle'];
const CREATE_WAIT_SECONDS = 30;

// A trade at 30 or 95 whose every line has refund_status 2: the buyer asked to cancel it.
function cancelRequested(trade) {
  const status = Number(trade.trade_status);
  const lines = trade.detail_list || [];
  return (status === 30 || status === 95) && lines.length > 0 &&
    lines.every((line) => Number(line.refund_status) === 2);
}

// What the poll saw of a trade we carry: a cancellation stops it and undoes what was sent.
function onPolledTrade(c, trade) {
  const entry = c.store.trades.get(trade.trade_no);
  if (!entry || entry.cancelled) return;
  if (Number(trade.trade_status) !== 5 && !cancelRequested(trade)) return;
  // Every line asked back after the carrier said "signed" is a return (the refund search's),
  // not a cancellation, though the trade looks the same while our completion is on its way.
  if (Number(trade.trade_status) !== 5 && entry.steps.oms_completed) return;
  // And so is every line asked back of a trade with a return refund, though the carrier's
  // signed push has not reached us yet.
  if (Number(trade.trade_status) !== 5 && c.returning.has(trade.trade_no)) return;
  c.store.record({ t: 'cancel', trade_no: trade.trade_no });
  c.counts.cancelled += 1;
  // Only an order whose create was tried can be at the WMS.
  if (entry.steps.wms_create) c.run(trade.trade_no, 'wms_cancel');
}

function blocked(c, id, step) {
  const entry = c.store.trades.get(id);
  return Boolean(entry && entry.cancelled && SALE_STEPS.has(step));
}

// A return refund (type 2, sent back: 40) of a trade we carried.
function onPolledRefund(c, refund) {
  if (Number(refund.type) !== 2 || Number(refund.status) !== 40) return;
  if (c.store.refunds.has(refund.refund_no)) return;
  const entry = c.store.trades.get(refund.trade_no);
  if (!entry || entry.cancelled || entry.trade.owner_code !== refund.owner_code) return;
  c.store.record({ t: 'refund', refund });
  c.counts.returns += 1;
  c.run(refund.refund_no, 'return_create');
}

function sleep(c, seconds) {
  return c.sleep(seconds);
}

async function perform(c, id, step) {
  switch (step) {
    case 'wms_cancel': {
      const entry = c.store.trades.get(id);
      // Our own create first, or it would land after the cancel.
      for (let waited = 0; c.running.has(`${id}:wms_create`) && waited < CREATE_WAIT_SECONDS; waited += 0.05) {
        await sleep(c, 0.05);
      }
      try {
        await c.wms.call('order.cancel', xml.write('request', {
          warehouseCode: entry.trade.warehouse_no,
          ownerCode: entry.trade.owner_code,
          orderCode: id,
          orderType: 'JYCK',
          cancelReason: '买家取消订单',
        }));
      } catch (error) {
        if (!(error instanceof PermanentError)) throw error;
        if (error.code === 'ORDER_NOT_EXIST') return; // the create never reached the WMS
        if (error.code !== 'CANCELEDFAIL') throw error;
        c.store.record({ t: 'canceledfail', trade_no: id });
      }
      return;
    }
    case 'intercept': {
      const entry = c.store.trades.get(id);
      try {
        await c.carrier.call('/api/EOrderService', '1816', {
          ShipperCode: mapping.shipperCode(entry.trade),
          LogisticCode: (entry.shipment && entry.shipment.expressCode) || entry.waybill,
          OrderCode: id,
          InterceptType: '2',
          Reason: '买家取消订单',
        });
      } catch (error) {
        // Signed for already (or a cancelled waybill): too late, a return is the way.
        if (/已签收|已取消/.test(String(error.message))) return;
        throw error;
      }
      return;
    }
    case 'return_create': {
      const { refund } = c.store.refunds.get(id);
      const { trade } = c.store.trades.get(refund.trade_no);
      await c.wms.call('returnorder.create', mapping.returnOrderXml(refund, trade));
      return;
    }
    case 'erp_return': {
      const { refund, receipt } = c.store.refunds.get(id);
      const { trade } = c.store.trades.get(refund.trade_no);
      await c.erp.postAudited('SAL_RETURNSTOCK', mapping.returnStockModel(refund, trade, receipt));
      return;
    }
    case 'erp_red': {
      const { refund, receipt } = c.store.refunds.get(id);
      const { trade } = c.store.trades.get(refund.trade_no);
      await c.erp.postAudited('AR_receivable', mapping.redReceivableModel(refund, trade, receipt));
      return;
    }
    case 'refund_settle':
      await c.oms.call('ecomock.Refund.confirmReturn', [{ refund_no: id }]);
      return;
    default:
      throw new Error(`unknown step ${step}`);
  }
}

function next(c, id, step) {
  if (step === 'wms_cancel' && c.store.trades.get(id).canceledfail) c.run(id, 'intercept');
  if ((step === 'erp_return' || step === 'erp_red') &&
      c.isDone(id, 'erp_return') && c.isDone(id, 'erp_red')) {
    c.run(id, 'refund_settle');
  }
}

// taobao.qimen.returnorder.confirm: the goods are back and checked; book and settle.
function onReturnConfirm(c, root, key) {
  const order = (name) => xml.text(root, `returnOrder/${name}`);
  const refundNo = order('returnOrderCode');
  const entry = c.store.refunds.get(refundNo);
  const trade = entry && c.store.trades.get(entry.refund.trade_no);
  if (!entry || !trade || trade.trade.owner_code !== order('ownerCode')) {
    c.log('ERROR', `a return confirm for ${order('ownerCode')}/${refundNo}, not a return of ours`);
    c.store.record({ t: 'inbox', key });
    return;
  }
  const receipt = {
    warehouseCode: order('warehouseCode'),
    orderConfirmTime: order('orderConfirmTime'),
    lines: xml.findAll(root, 'orderLines/orderLine').map((line) => ({
      itemCode: xml.text(line, 'itemCode'),
      inventoryType: xml.text(line, 'inventoryType') || 'ZP',
      actualQty: Number(xml.text(line, 'actualQty') || 0),
    })),
  };
  c.store.record({ t: 'return', refund_no: refundNo, receipt });
  if (!c.isDone(refundNo, 'return_create')) {
    c.store.record({ t: 'step', trade_no: refundNo, step: 'return_create', state: { status: 'done', attempts: 0 } });
  }
  c.store.record({ t: 'inbox', key });
  setImmediate(() => {
    c.run(refundNo, 'erp_return');
    c.run(refundNo, 'erp_red');
  });
}

module.exports = { STEPS, onPolledTrade, onPolledRefund, blocked, perform, next, onReturnConfirm, cancelRequested };

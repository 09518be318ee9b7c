// Durable state without a database: everything in memory, every change appended to a journal
// (one JSON object a line) before the work it describes; replayed on start, then compacted
// into a fresh journal written to a temporary file and renamed over the old one (atomic).
'use strict';

const fs = require('node:fs');
const path = require('node:path');

class Store {
  constructor(dir) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, 'journal.jsonl');
    this.trades = new Map(); // trade_no -> {trade, waybill, shipment, steps: {name: {status, attempts, error}}}
    this.refunds = new Map(); // refund_no -> {refund, receipt, steps} (returns, type 2)
    this.byWaybill = new Map(); // waybill -> trade_no
    this.inbox = new Set(); // push keys already accepted
    this.cursor = null; // end of the last fully read OMS window (simulated time text)
    this.replay();
    this.compact();
    this.fd = fs.openSync(this.file, 'a');
  }

  replay() {
    if (!fs.existsSync(this.file)) return;
    for (const line of fs.readFileSync(this.file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let record;
      try {
        record = JSON.parse(line);
      } catch {
        continue; // a line cut short by a crash mid-write: the work it announced is redone
      }
      this.apply(record);
    }
  }

  apply(record) {
    switch (record.t) {
      case 'trade':
        this.trades.set(record.trade.trade_no, { trade: record.trade, steps: {} });
        break;
      case 'step': {
        const entry = this.entity(record.trade_no);
        if (entry) entry.steps[record.step] = record.state;
        break;
      }
      case 'cancel':
      case 'canceledfail': {
        const entry = this.trades.get(record.trade_no);
        if (entry) entry[record.t === 'cancel' ? 'cancelled' : 'canceledfail'] = true;
        break;
      }
      case 'refund':
        this.refunds.set(record.refund.refund_no, { refund: record.refund, steps: {} });
        break;
      case 'return': {
        const entry = this.refunds.get(record.refund_no);
        if (entry) entry.receipt = record.receipt;
        break;
      }
      case 'waybill': {
        const entry = this.trades.get(record.trade_no);
        if (entry) entry.waybill = record.waybill;
        this.byWaybill.set(record.waybill, record.trade_no);
        break;
      }
      case 'shipment': {
        const entry = this.trades.get(record.trade_no);
        if (entry) entry.shipment = record.shipment;
        if (record.shipment.expressCode) this.byWaybill.set(record.shipment.expressCode, record.trade_no);
        break;
      }
      case 'partial': {
        const entry = this.trades.get(record.trade_no);
        if (entry) entry.partials = [...(entry.partials || []), ...record.lines];
        if (entry && record.package) entry.packages = [...(entry.packages || []), record.package];
        break;
      }
      case 'inbox':
        this.inbox.add(record.key);
        break;
      case 'cursor':
        this.cursor = record.cursor;
        break;
      default:
        break;
    }
  }

  // Rewrite the journal as the records of the current state, atomically.
  compact() {
    const lines = [];
    for (const [tradeNo, entry] of this.trades) {
      lines.push({ t: 'trade', trade: entry.trade });
      if (entry.waybill) lines.push({ t: 'waybill', trade_no: tradeNo, waybill: entry.waybill });
      if (entry.packages) {
        for (const parcel of entry.packages) {
          lines.push({ t: 'partial', trade_no: tradeNo, lines: parcel.lines, package: parcel });
        }
      } else if (entry.partials) {
        lines.push({ t: 'partial', trade_no: tradeNo, lines: entry.partials });
      }
      if (entry.shipment) lines.push({ t: 'shipment', trade_no: tradeNo, shipment: entry.shipment });
      for (const flag of ['cancel', 'canceledfail']) {
        if (entry[flag === 'cancel' ? 'cancelled' : flag]) lines.push({ t: flag, trade_no: tradeNo });
      }
      for (const [step, state] of Object.entries(entry.steps)) {
        lines.push({ t: 'step', trade_no: tradeNo, step, state });
      }
    }
    for (const [refundNo, entry] of this.refunds) {
      lines.push({ t: 'refund', refund: entry.refund });
      if (entry.receipt) lines.push({ t: 'return', refund_no: refundNo, receipt: entry.receipt });
      for (const [step, state] of Object.entries(entry.steps)) {
        lines.push({ t: 'step', trade_no: refundNo, step, state });
      }
    }
    for (const key of this.inbox) lines.push({ t: 'inbox', key });
    if (this.cursor) lines.push({ t: 'cursor', cursor: this.cursor });
    const temporary = `${this.file}.tmp`;
    fs.writeFileSync(temporary, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    fs.renameSync(temporary, this.file);
  }

  // A trade (by trade_no) or a return refund (by refund_no): what steps belong to.
  entity(id) {
    return this.trades.get(id) || this.refunds.get(id);
  }

  record(record) {
    fs.writeSync(this.fd, JSON.stringify(record) + '\n');
    this.apply(record);
  }

  close() {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

module.exports = { Store };

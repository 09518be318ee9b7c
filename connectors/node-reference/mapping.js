// Business rules: an OMS trade as a Kdniao waybill request, a Qimen delivery order and two
// K3 bills (docs/CONTRACT.md, "The flow, step by step"). Pure functions, no I/O.
'use strict';

const xml = require('./xml');

// docs/protocols/carrier.md, "Qimen logisticsCode → Kdniao ShipperCode"; others are the same.
const KDNIAO_SHIPPER = {
  YUNDA: 'YD',
  EYB: 'EMS',
  POSTB: 'YZPY',
  BSKY: 'BTWL',
  TTKDEX: 'HHTT',
  DBKD: 'DBL',
  DBWL: 'DBLKY',
  DBKY: 'DBLKY',
};

// The connector does not know the warehouses' addresses: one merchant address for all.
const SENDER = {
  name: '电商仓库',
  mobile: '13900000000',
  province: '广东省',
  city: '广州市',
  area: '白云区',
  detailAddress: '太和镇物流园 1 号',
};

// 旺店通 platform ids (docs/protocols/oms.md) as Qimen sourcePlatformCode.
function platformCode(trade) {
  const id = Number(trade.platform_id);
  if (id === 1) return Number(trade.sub_platform_id) === 1 ? 'TM' : 'TB';
  if (id === 3) return 'JD';
  if (id === 69) return 'DY';
  return 'OTHER';
}

function shipperCode(trade) {
  return KDNIAO_SHIPPER[trade.logistics_code] || trade.logistics_code;
}

// Amounts arrive as JSON numbers in yuan, exact to the cent; inside, integer cents.
function cents(value) {
  return Math.round(Number(value) * 100);
}

function yuan(amountCents) {
  const sign = amountCents < 0 ? '-' : '';
  const whole = Math.abs(amountCents);
  return `${sign}${Math.floor(whole / 100)}.${String(whole % 100).padStart(2, '0')}`;
}

// Milliseconds since the epoch as China time text (the OMS gives trade_time, created so).
function chinaText(ms) {
  return new Date(Number(ms) + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

function receiver(trade) {
  const [province = '', city = '', district = ''] = String(trade.receiver_area || '')
    .split(/\s+/)
    .filter(Boolean);
  return {
    name: trade.receiver_name || '收件人',
    mobile: trade.receiver_mobile || trade.receiver_telno || '13800000000',
    province: province || '未知',
    city: city || province || '未知',
    area: district || city || province || '未知',
    detailAddress: trade.receiver_address || receiverAreaFallback(trade),
  };
}

function receiverAreaFallback(trade) {
  return String(trade.receiver_area || '未知地址');
}

function waybillRequest(trade) {
  const to = receiver(trade);
  return {
    OrderCode: trade.trade_no,
    ShipperCode: shipperCode(trade),
    PayType: 1,
    ExpType: 1,
    Quantity: 1,
    Sender: {
      Name: SENDER.name,
      Mobile: SENDER.mobile,
      ProvinceName: SENDER.province,
      CityName: SENDER.city,
      ExpAreaName: SENDER.area,
      Address: SENDER.detailAddress,
    },
    Receiver: {
      Name: to.name,
      Mobile: to.mobile,
      ProvinceName: to.province,
      CityName: to.city,
      ExpAreaName: to.area,
      Address: to.detailAddress,
    },
    Commodity: (trade.detail_list || []).map((line) => ({
      GoodsName: line.goods_name || line.spec_no,
      Goodsquantity: Number(line.num),
    })),
  };
}

function deliveryOrderXml(trade, waybill) {
  const payTime = trade.pay_time || chinaText(trade.trade_time);
  return xml.write('request', {
    deliveryOrder: {
      deliveryOrderCode: trade.trade_no,
      orderType: 'JYCK',
      warehouseCode: trade.warehouse_no,
      sourcePlatformCode: platformCode(trade),
      createTime: trade.created ? chinaText(trade.created) : payTime,
      placeOrderTime: trade.trade_time ? chinaText(trade.trade_time) : payTime,
      payTime,
      operateTime: payTime,
      shopNick: trade.shop_no,
      logisticsCode: trade.logistics_code,
      expressCode: waybill,
      senderInfo: SENDER,
      receiverInfo: receiver(trade),
    },
    orderLines: {
      orderLine: (trade.detail_list || []).map((line) => ({
        orderLineNo: line.rec_id,
        sourceOrderCode: line.src_tid,
        ownerCode: trade.owner_code,
        itemCode: line.spec_no,
        planQty: line.num,
        actualPrice: yuan(cents(line.share_amount)),
        inventoryType: 'ZP',
      })),
    },
  });
}

// Each line as shipped: the confirms' actualQty for its orderLineNo (= rec_id, summed over a
// split order's packages), and its amount:
// the line's share, the trade's freight (paid − Σ shares) on the last line so that every
// bill's total is `paid` to the cent.
function bookedLines(trade, shipment) {
  const lines = trade.detail_list || [];
  const shipped = new Map();
  for (const l of shipment.lines || []) {
    const no = String(l.orderLineNo);
    shipped.set(no, (shipped.get(no) || 0) + Number(l.actualQty));
  }
  const booked = lines.map((line) => ({
    item: line.spec_no,
    qty: shipped.has(String(line.rec_id)) ? shipped.get(String(line.rec_id)) : Number(line.num),
    amount: cents(line.share_amount),
  }));
  const freight = cents(trade.paid) - booked.reduce((sum, l) => sum + l.amount, 0);
  if (booked.length) booked[booked.length - 1].amount += freight;
  return booked;
}

function unitPrice(line) {
  return line.qty ? yuan(Math.round(line.amount / line.qty)) : yuan(line.amount);
}

function outstockModel(trade, shipment) {
  return {
    FBillNo: trade.trade_no,
    FDate: shipment.orderConfirmTime || trade.pay_time,
    FSaleOrgId: { FNumber: '100' },
    FStockOrgId: { FNumber: '100' },
    FCustomerID: { FNumber: trade.shop_no },
    FNote: trade.trade_no,
    FEntity: bookedLines(trade, shipment).map((line) => ({
      FMaterialID: { FNumber: line.item },
      FRealQty: line.qty,
      FTaxPrice: unitPrice(line),
      FAllAmount: yuan(line.amount),
      FStockID: { FNumber: shipment.warehouseCode || trade.warehouse_no },
    })),
  };
}

function receivableModel(trade, shipment) {
  return {
    FBillNo: trade.trade_no,
    FDATE: shipment.orderConfirmTime || trade.pay_time,
    FCUSTOMERID: { FNumber: trade.shop_no },
    FCURRENCYID: { FNumber: 'PRE001' },
    FSETTLEORGID: { FNumber: '100' },
    FNote: trade.trade_no,
    FEntityDetail: bookedLines(trade, shipment).map((line) => ({
      FMATERIALID: { FNumber: line.item },
      FPriceQty: line.qty,
      FTaxPrice: unitPrice(line),
      FALLAMOUNTFOR: yuan(line.amount),
    })),
  };
}

// Returns (docs/CONTRACT.md, "Returns after delivery").
function returnOrderXml(refund, trade) {
  return xml.write('request', {
    returnOrder: {
      returnOrderCode: refund.refund_no,
      warehouseCode: trade.warehouse_no,
      orderType: 'THRK',
      preDeliveryOrderCode: trade.trade_no,
      logisticsCode: refund.logistics_code,
      expressCode: refund.logistics_no,
      returnReason: refund.reason || '',
      ownerCode: trade.owner_code,
    },
    orderLines: {
      orderLine: (refund.detail_list || []).map((line) => ({
        orderLineNo: line.oid,
        ownerCode: trade.owner_code,
        itemCode: line.spec_no,
        planQty: line.num,
        inventoryType: 'ZP',
      })),
    },
  });
}

// K3's preset stock statuses: available for goods passed as good (ZP), defective otherwise.
function stockStatus(inventoryType) {
  return inventoryType === 'ZP' ? 'KCZT01_SYS' : 'KCZT08_SYS';
}

function returnStockModel(refund, trade, receipt) {
  const unitCents = new Map(
    (trade.detail_list || []).map((l) => [l.spec_no, Math.round(cents(l.share_amount) / Number(l.num))]),
  );
  return {
    FBillNo: refund.refund_no,
    FDate: receipt.orderConfirmTime || refund.modified,
    FNote: trade.trade_no,
    FRetcustId: { FNumber: trade.shop_no },
    FEntity: receipt.lines
      .filter((line) => line.actualQty > 0)
      .map((line) => ({
        FMaterialId: { FNumber: line.itemCode },
        FRealQty: line.actualQty,
        FTaxPrice: yuan(unitCents.get(line.itemCode) || 0),
        FStockId: { FNumber: receipt.warehouseCode || trade.warehouse_no },
        FStockStatusId: { FNumber: stockStatus(line.inventoryType) },
        FSrcBillTypeID: 'SAL_OUTSTOCK',
        FSrcBillNo: trade.trade_no,
      })),
  };
}

// A red receivable: minus the refunded amount of each line (not price × units).
function redReceivableModel(refund, trade, receipt) {
  return {
    FBillNo: refund.refund_no,
    FDATE: receipt.orderConfirmTime || refund.modified,
    FNote: trade.trade_no,
    FCUSTOMERID: { FNumber: trade.shop_no },
    FCURRENCYID: { FNumber: 'PRE001' },
    FSETTLEORGID: { FNumber: '100' },
    FEntityDetail: (refund.detail_list || []).map((line) => ({
      FMATERIALID: { FNumber: line.spec_no },
      FPriceQty: -Number(line.num),
      FALLAMOUNTFOR: yuan(-cents(line.refund_amount)),
      FSOURCETYPE: 'AR_receivable',
      FSourceBillNo: trade.trade_no,
    })),
  };
}

// One package of a split shipment for ecomock.Trade.ship: is_part_sync 1, the platform
// sub-orders it holds (the src_oid of each line: orderLineNo is the line's rec_id) and its units.
function packageShip(trade, parcel) {
  const oids = new Map((trade.detail_list || []).map((l) => [String(l.rec_id), String(l.src_oid)]));
  const held = parcel.lines.filter((l) => Number(l.actualQty) > 0);
  return {
    trade_no: trade.trade_no,
    logistics_code: parcel.logisticsCode || trade.logistics_code,
    logistics_no: parcel.expressCode,
    is_part_sync: 1,
    oids: [...new Set(held.map((l) => oids.get(String(l.orderLineNo))))].join(','),
    goods_count: held.reduce((sum, l) => sum + Number(l.actualQty), 0),
  };
}

module.exports = {
  packageShip,
  returnOrderXml,
  returnStockModel,
  redReceivableModel,
  waybillRequest,
  deliveryOrderXml,
  outstockModel,
  receivableModel,
  bookedLines,
  shipperCode,
  cents,
  yuan,
  chinaText,
};

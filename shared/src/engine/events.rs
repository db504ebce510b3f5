//! Every stock movement of LEDGER.md ("Events") costed in one ordered stream per SKU:
//! receipts, sales, customer returns, supplier returns, adjustments, counts and landed
//! costs. Pure, like the rest of the engine: inputs in, allocations, movements,
//! shortfalls and the closing layers out.
//!
//! Order within a SKU: by instant; at one instant the inflows (receipts, restocked
//! returns, adjustments in, landed costs), then transfers, then the outflows (sales,
//! adjustments out, supplier returns), then counts; within a kind by id, byte order. A return at the
//! very instant of its sale comes right after that sale (its units cannot come back
//! before they left). Layers are drawn in (instant, kind, id) order: a lot before a
//! return's layer before an adjustment's or a count's.
//!
//! Locations: each SKU's stock is kept per location, and every outflow draws on its
//! own location's layers (FIFO per location; the average's pool is per location too).
//! A transfer is an outflow at its source and, for each layer it draws, a layer at its
//! destination keeping the drawn layer's cost and place in drawing order; a landed cost
//! follows the units of its lot wherever they were transferred.
//!
//! Landed costs (docs/DECISIONS.md, "Landed costs: shares and remainders"): a cost named
//! by receipt is spread over the receipt's lots by quantity or value as loaded; a lot's
//! share falls on its loaded units alike, so units already gone take theirs where they
//! went and units on hand raise the lot's value. Every split rounds half away from
//! zero, cumulatively, to the places of the amount split (at least cents), so the parts
//! add up to it exactly; a draw on a lot's landed value takes its share of the units
//! drawn the same way, and the last unit takes what is left.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::cmp::Ordering;
use std::sync::Arc;

use rust_decimal::{Decimal, RoundingStrategy};

use super::figure::Figure;
use super::{CostingError, checked_unit_cost};
use crate::model::{
    Adjustment, AllocateBy, Allocation, CustomerReturn, EventId, EventKind, LandedCost, LandedTarget, Location, Lot,
    LotId, Method, Methods, Movement, MovementKind, ReceiptId, Sale, SaleId, Shortfall, Sku, StockCount,
    SupplierReturn, Timestamp, Transfer,
};
use crate::money::{CENT_PLACES, exact_add, exact_mul, exact_sub, exact_sum};

/// Everything loaded, in any order, and the methods that cost it.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub methods: &'a Methods,
    pub lots: &'a [Lot],
    /// Lots of other SKUs that share a delivery with `lots`: they take their share of a
    /// landed cost named by receipt, but are not costed here.
    pub spread_lots: &'a [Lot],
    pub sales: &'a [Sale],
    pub returns: &'a [CustomerReturn],
    pub supplier_returns: &'a [SupplierReturn],
    pub adjustments: &'a [Adjustment],
    pub counts: &'a [StockCount],
    pub landed_costs: &'a [LandedCost],
    pub transfers: &'a [Transfer],
}

static FIFO_THROUGHOUT: Methods = Methods::FIFO;

impl Default for Inputs<'_> {
    fn default() -> Self {
        Self {
            methods: &FIFO_THROUGHOUT,
            lots: &[],
            spread_lots: &[],
            sales: &[],
            returns: &[],
            supplier_returns: &[],
            adjustments: &[],
            counts: &[],
            landed_costs: &[],
            transfers: &[],
        }
    }
}

/// What costing every event made. Sales' draws and movements come SKU by SKU (SKUs in
/// byte order), each SKU's in the order its events were costed; layers likewise, each
/// SKU's in the order they are drawn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Costing<'a> {
    /// What each sale drew, as [`Costing::allocations`] names it.
    pub sale_draws: Vec<SaleDraw<'a>>,
    pub movements: Vec<Movement>,
    pub shortfalls: Vec<Shortfall>,
    pub layers: Vec<Layer>,
    /// Every layer costing made, by the number a draw gives.
    pub drawn_layers: Vec<DrawnLayer>,
    /// The units of each draw that took part of its sale (a sale drawn from several
    /// layers), by the number the draw gives.
    pub part_quantities: Vec<Decimal>,
}

/// A layer as the draws on it name it: its name and what a unit of it cost (a layer's
/// unit cost never changes; what its units cost beyond it, each draw carries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawnLayer {
    pub name: LotId,
    pub unit_cost: Decimal,
}

/// Units one sale drew from one layer. The sale and the layer are pointed at, not
/// named: a million sales' allocations made with their ids copied cost more than the
/// costing (shared ids are counted, and every count lies elsewhere in memory). The
/// layer's unit cost is kept with the layer, and the units drawn are the sale's own
/// quantity, read from the sale, but where it drew on several layers: 32 bytes a
/// draw (fresh pages for a million draws' outputs take a tenth of a costing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleDraw<'a> {
    pub sale: &'a Sale,
    /// The layer's place in [`Costing::drawn_layers`].
    pub layer: u32,
    /// The units drawn ([`Costing::quantity`]): [`SaleDraw::WHOLE_SALE`], or the place
    /// of their number in [`Costing::part_quantities`].
    pub part: u32,
    /// What the units cost beyond `quantity × unit_cost`, as [`Allocation::landed`].
    pub landed: Decimal,
}

impl<'a> SaleDraw<'a> {
    /// [`SaleDraw::part`] of a draw of its sale's whole quantity.
    pub const WHOLE_SALE: u32 = u32::MAX;

    /// What `sale` drew in `draw`, its SKU's layers numbered from `first_layer` on; the
    /// units, where they are not the sale's whole quantity, added to `part_quantities`.
    fn of(
        sale: &'a Sale,
        first_layer: usize,
        draw: &Draw,
        part_quantities: &mut Vec<Decimal>,
    ) -> Result<Self, CostingError> {
        let &Draw { layer, quantity, landed, .. } = draw;
        let too_many = || overflow(EventKind::Sale, &sale.sale_id);
        let layer = u32::try_from(first_layer + layer).map_err(|_| too_many())?;
        // The sale's own figure, places and all: the allocation then reads it from the sale.
        let whole = quantity == sale.quantity_sold && quantity.scale() == sale.quantity_sold.scale();
        let part = if whole {
            Self::WHOLE_SALE
        } else {
            let part = u32::try_from(part_quantities.len()).ok().filter(|&part| part != Self::WHOLE_SALE);
            let part = part.ok_or_else(too_many)?;
            part_quantities.push(quantity);
            part
        };
        Ok(Self { sale, layer, part, landed })
    }
}

impl Costing<'_> {
    /// Each sale's draws as allocations that name their sale, lot and SKU.
    pub fn allocations(&self) -> Vec<Allocation> {
        self.sale_draws.iter().map(|draw| self.allocation(draw)).collect()
    }

    /// The units `draw` took.
    pub fn quantity(&self, draw: &SaleDraw<'_>) -> Decimal {
        match draw.part {
            SaleDraw::WHOLE_SALE => draw.sale.quantity_sold,
            part => self.part_quantities[part as usize],
        }
    }

    /// One draw as the allocation that names its sale, lot and SKU.
    pub fn allocation(&self, draw: &SaleDraw<'_>) -> Allocation {
        let SaleDraw { sale, layer, landed, .. } = *draw;
        let quantity = self.quantity(draw);
        let DrawnLayer { name, unit_cost } = &self.drawn_layers[layer as usize];
        let unit_cost = *unit_cost;
        Allocation {
            sale_id: sale.sale_id.clone(),
            lot_id: name.clone(),
            sku: sale.sku.clone(),
            sale_date: sale.sale_date,
            quantity,
            unit_cost,
            extended_cost: exact_mul(quantity, unit_cost).expect("a draw's cost was checked when it was costed"),
            landed,
        }
    }
}

/// A layer as costing leaves it: a lot, or stock a return, an adjustment or a count
/// brought in. Its value is `remaining_quantity × unit_cost + landed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub layer: LotId,
    pub sku: Sku,
    pub location: Location,
    pub received_date: Timestamp,
    pub remaining_quantity: Decimal,
    pub unit_cost: Decimal,
    /// Landed costs the remaining units carry beyond `unit_cost`.
    pub landed: Decimal,
}

impl Layer {
    pub fn value(&self) -> Option<Decimal> {
        exact_add(exact_mul(self.remaining_quantity, self.unit_cost)?, self.landed)
    }
}

/// Costs every event of `inputs`. Input that names what does not exist, or breaks a
/// rule no costing can mend (a return of more than was sold, a landed cost dated
/// before its lot arrived), is refused with nothing costed. An outflow the layers
/// cannot cover parks its SKU: the SKU's events before it are costed, it and the
/// later ones are not (its later lots are still received into stock), and a
/// [`Shortfall`] names it.
pub fn cost_events<'a>(inputs: &Inputs<'a>) -> Result<Costing<'a>, CostingError> {
    let mut streams = Streams::build(inputs)?;
    // Most sales draw on one layer: their allocations, and a layer per lot.
    let mut costing = Costing {
        sale_draws: Vec::with_capacity(inputs.sales.len()),
        layers: Vec::with_capacity(inputs.lots.len()),
        ..Costing::default()
    };
    // SKU by SKU in order: the outputs come in the order of their SKUs.
    let mut by_sku = std::mem::take(&mut streams.skus.streams);
    by_sku.sort_unstable_by(|a, b| a.0.cmp(b.0));
    // A SKU's sales as rows, made as it is costed in one buffer reused SKU by SKU.
    let mut rows = Vec::new();
    for (sku, mut stream) in by_sku {
        // Keys are unique (ids are, within a kind), so an unstable sort orders them alike.
        stream.events.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        rows.clear();
        match &streams.sale_order {
            None => rows.extend(inputs.sales[stream.sales].iter().map(SaleRow::of)),
            Some(order) => rows.extend(order[stream.sales].iter().map(|&at| SaleRow::of(&inputs.sales[at as usize]))),
        }
        // Sales usually come in costing order already: checked, not sorted afresh.
        if !rows.is_sorted_by(|a, b| a.costing_order(b).is_le()) {
            rows.sort_unstable_by(|a, b| a.costing_order(b));
        }
        if streams.named
            && !name_own_lots(inputs.methods, &stream.events, &rows)
            && let Some(fault) = first_sale_fault(inputs, &streams.lots)
        {
            return Err(fault);
        }
        let costing_of_sku = SkuCosting::new(inputs.methods, sku, &streams.returned, &streams.landed);
        costing_of_sku
            .run(&stream.events, &rows, &mut costing)
            .map_err(|error| sale_fault_before(inputs, &streams.lots, streams.named, error))?;
    }
    Ok(costing)
}

/// An event's place in its SKU's stream: (instant, rank of its kind, id, second id).
type Key<'a> = (Timestamp, u8, &'a str, &'a str);

/// A sale's rank among the kinds at one instant: after the inflows and transfers.
const SALE_RANK: u8 = 5;

/// A sale as its SKU's costing reads it, copied out of the input as the SKU is costed
/// (all its sales in one short loop, which waits for many at once where they lie far
/// apart, as in a merged export in date order). The sale itself is read only for what
/// few sales need (its id at a tie, a named lot, a return).
#[derive(Clone, Copy)]
struct SaleRow<'a> {
    date: Timestamp,
    quantity: Decimal,
    /// Its location's text, compared with the SKU's places without reading the sale.
    location: &'a str,
    lot: Option<&'a LotId>,
    sale: &'a Sale,
}

impl<'a> SaleRow<'a> {
    fn of(sale: &'a Sale) -> Self {
        let (location, lot) = (sale.location.as_str(), sale.lot_id.as_ref());
        Self { date: sale.sale_date, quantity: sale.quantity_sold, location, lot, sale }
    }

    /// Costing order among one SKU's sales: by instant, then id.
    fn costing_order(&self, other: &Self) -> Ordering {
        self.date.cmp(&other.date).then_with(|| self.sale.sale_id.cmp(&other.sale.sale_id))
    }

    /// Whether the sale comes before `event` in its SKU's stream.
    fn before(&self, event: &Event<'_>) -> bool {
        let (date, rank, first, second) = event.key;
        (self.date, SALE_RANK)
            .cmp(&(date, rank))
            .then_with(|| (self.sale.sale_id.as_str(), "").cmp(&(first, second)))
            .is_lt()
    }
}

enum What<'a> {
    /// With its unit cost, checked.
    Receipt(&'a Lot, Decimal),
    Return(&'a CustomerReturn, &'a Sale),
    AdjustmentIn(&'a Adjustment, Decimal),
    Landed(&'a LandedCost, &'a LotId, Decimal),
    Transfer(&'a Transfer),
    AdjustmentOut(&'a Adjustment),
    /// With the location its units leave from.
    SupplierReturn(&'a SupplierReturn, &'a Location),
    Count(&'a StockCount),
}

struct Event<'a> {
    key: Key<'a>,
    what: What<'a>,
}

/// One SKU's input: its sales apart from its other events (they are most of the input,
/// and usually come in order), merged in order as the SKU is costed.
#[derive(Default)]
struct SkuStream<'a> {
    events: Vec<Event<'a>>,
    /// Where its sales lie: in the input, or in [`Streams::sale_order`] where one is made.
    sales: std::ops::Range<usize>,
}

/// Where one SKU's sales lie in the input, gathered as the input is read.
#[derive(Clone, Default)]
struct SalesOfStream {
    count: usize,
    first: usize,
    last: usize,
}

/// SKU texts numbered in the order first looked up, each copied once into one text:
/// rows that each hold their own copy of their SKU's text (as rows read from a file
/// or the database do) are numbered reading their own text and a few bytes per SKU
/// kept together, not the text of the row that first named the SKU, which lies
/// wherever that row does.
#[derive(Default)]
struct SkuNumbers {
    state: foldhash::fast::RandomState,
    texts: String,
    /// Where each number's text ends in `texts`; it starts where the previous one ends.
    ends: Vec<usize>,
    table: hashbrown::HashTable<usize>,
}

impl SkuNumbers {
    fn text<'t>(texts: &'t str, ends: &[usize], number: usize) -> &'t str {
        let start = number.checked_sub(1).map_or(0, |previous| ends[previous]);
        &texts[start..ends[number]]
    }

    /// The number of `text`, the next one the first time it is looked up.
    fn number(&mut self, text: &str) -> usize {
        use std::hash::BuildHasher;
        let Self { state, texts, ends, table } = self;
        let hash = state.hash_one(text);
        if let Some(&number) = table.find(hash, |&number| Self::text(texts, ends, number) == text) {
            return number;
        }
        let number = ends.len();
        texts.push_str(text);
        ends.push(texts.len());
        table.insert_unique(hash, number, |&number| state.hash_one(Self::text(texts, ends, number)));
        number
    }
}

/// Each SKU's stream, numbered in the order the input first names them.
#[derive(Default)]
struct SkuStreams<'a> {
    numbers: SkuNumbers,
    /// The numbers of texts already looked up, by where the text lies: rows that share
    /// their SKU's text (as rows read in one place do) are numbered without reading it.
    /// The inputs are borrowed throughout, so an address names one text. Kept to a few
    /// per SKU: once it holds that many, rows hold their own copies, and it is no
    /// longer grown nor looked up.
    by_address: HashMap<(usize, usize), usize>,
    streams: Vec<(&'a Sku, SkuStream<'a>)>,
    /// The SKU numbered last: a run of rows of one SKU looks it up once.
    last: Option<(&'a str, usize)>,
}

impl<'a> SkuStreams<'a> {
    /// The number of `sku`'s stream, made empty the first time it is named.
    fn number(&mut self, sku: &'a Sku) -> usize {
        let text = sku.as_str();
        // The SKU numbered last, where its text is shared; then any whose text is;
        // only then are texts compared.
        if let Some((last, number)) = self.last
            && std::ptr::eq(last, text)
        {
            return number;
        }
        let address = (text.as_ptr() as usize, text.len());
        let full = self.by_address.len() >= 4 * self.streams.len() + 1024;
        if !full && let Some(&number) = self.by_address.get(&address) {
            self.last = Some((text, number));
            return number;
        }
        if let Some((last, number)) = self.last
            && last == text
        {
            return number;
        }
        let number = self.numbers.number(text);
        if number == self.streams.len() {
            self.streams.push((sku, SkuStream::default()));
        }
        if !full {
            self.by_address.insert(address, number);
        }
        self.last = Some((text, number));
        number
    }

    fn push(&mut self, sku: &'a Sku, key: Key<'a>, what: What<'a>) {
        let number = self.number(sku);
        self.streams[number].1.events.push(Event { key, what });
    }
}

/// Whether two ids are the same text: one shared text (a pointer comparison, no bytes
/// read, as rows at the default location share theirs), or equal texts (rows read from
/// a file or the database each hold their own copy).
fn same_text(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// The inputs checked and gathered into one (unsorted) stream per SKU.
struct Streams<'a> {
    skus: SkuStreams<'a>,
    /// Where some SKU's sales lie apart in the input: the places of the sales, SKU by
    /// SKU (each SKU's in input order), which the streams' ranges index.
    sale_order: Option<Vec<u32>>,
    /// Sales some return names: only their parts are kept.
    returned: HashSet<&'a SaleId>,
    /// Lots some landed cost falls on: only they keep who took their units.
    landed: HashSet<&'a LotId>,
    /// Every lot loaded, spread lots too.
    lots: HashMap<&'a LotId, &'a Lot>,
    /// Whether some sale names a lot where specific identification may cost it: each
    /// SKU's are checked to name its own lots as it is costed.
    named: bool,
}

impl<'a> Streams<'a> {
    fn build(inputs: &Inputs<'a>) -> Result<Self, CostingError> {
        let mut skus = SkuStreams::default();

        let mut lots: HashMap<&LotId, &Lot> = HashMap::with_capacity(inputs.lots.len());
        let mut receipts: HashMap<&ReceiptId, Vec<&Lot>> = HashMap::new();
        for lot in inputs.lots {
            if lots.insert(&lot.lot_id, lot).is_some() {
                return Err(CostingError::DuplicateLot { lot_id: lot.lot_id.clone() });
            }
            let unit_cost = checked_unit_cost(lot)?;
            if let Some(receipt) = &lot.receipt_id {
                receipts.entry(receipt).or_default().push(lot);
            }
            skus.push(&lot.sku, (lot.received_date, 0, lot.lot_id.as_str(), ""), What::Receipt(lot, unit_cost));
        }
        let mut spread_only: HashSet<&LotId> = HashSet::new();
        for lot in inputs.spread_lots {
            if lots.contains_key(&lot.lot_id) {
                continue;
            }
            checked_unit_cost(lot)?;
            if let Some(receipt) = &lot.receipt_id {
                receipts.entry(receipt).or_default().push(lot);
            }
            lots.insert(&lot.lot_id, lot);
            spread_only.insert(&lot.lot_id);
        }
        // Only the sales some return names are looked up (`None`: not loaded).
        let mut sales: HashMap<&SaleId, Option<&Sale>> =
            inputs.returns.iter().map(|ret| (&ret.sale_id, None)).collect();
        // Each sale's SKU stream, and how many sales each stream takes.
        let mut stream_of_sale: Vec<u32> = Vec::with_capacity(inputs.sales.len());
        let mut sales_of_stream: Vec<SalesOfStream> = Vec::new();
        // The ids are hashed in a pass of their own: each id's text lies elsewhere in
        // memory, and a short loop waits for many of them at once. A repeated id is
        // refused before any other fault of a sale, the first such fault in input order
        // after it.
        let mut sale_ids = IdHashes::for_ids(inputs.sales.len());
        for sale in inputs.sales {
            sale_ids.add(&sale.sale_id);
        }
        let (mut non_positive, mut names_lots) = (false, false);
        for (index, sale) in inputs.sales.iter().enumerate() {
            let number = skus.number(&sale.sku);
            stream_of_sale.push(u32::try_from(number).expect("fewer SKUs than 2^32"));
            if number >= sales_of_stream.len() {
                sales_of_stream.resize(number + 1, SalesOfStream::default());
            }
            let of_stream = &mut sales_of_stream[number];
            if of_stream.count == 0 {
                of_stream.first = index;
            }
            of_stream.count += 1;
            of_stream.last = index;
            non_positive |= not_positive(sale.quantity_sold);
            names_lots |= sale.lot_id.is_some();
            if let Some(returned) = sales.get_mut(&sale.sale_id) {
                *returned = Some(sale);
            }
        }
        if let Some(sale_id) = sale_ids.repeated(inputs.sales.iter().map(|sale| &sale.sale_id)) {
            return Err(invalid(EventKind::Sale, sale_id.as_str(), "it appears twice".into()));
        }
        // A sale's faults are refused before the other events' and before any fault
        // costing finds, the first in input order. Whether a lot a sale names is its
        // SKU's own is checked as its SKU is costed, where the SKU's lots are at hand
        // (`lots` holds them far apart in memory); only once some fault is found are
        // the sales read again for the first.
        let named = names_lots && inputs.methods.uses(Method::SpecificIdentification);
        if non_positive {
            return Err(first_sale_fault(inputs, &lots).expect("a sale's quantity is not positive"));
        }
        let (returned, landed) = other_events(inputs, &mut skus, &lots, &receipts, &spread_only, &sales)
            .map_err(|error| sale_fault_before(inputs, &lots, named, error))?;
        let together = sales_of_stream.iter().all(|of| of.count == 0 || of.last - of.first + 1 == of.count);
        let sale_order = if together {
            for ((_, stream), of) in skus.streams.iter_mut().zip(&sales_of_stream) {
                stream.sales = of.first..of.first + of.count;
            }
            None
        } else {
            // Each SKU's sales placed after the previous SKU's (a counting sort): where
            // the next of each SKU's goes.
            let (mut next, mut start) = (Vec::with_capacity(sales_of_stream.len()), 0);
            for ((_, stream), of) in skus.streams.iter_mut().zip(&sales_of_stream) {
                stream.sales = start..start + of.count;
                next.push(start);
                start += of.count;
            }
            let mut order = vec![0; inputs.sales.len()];
            for (at, number) in stream_of_sale.into_iter().enumerate() {
                let next = &mut next[number as usize];
                order[*next] = u32::try_from(at).expect("fewer sales than 2^32");
                *next += 1;
            }
            Some(order)
        };
        Ok(Self { skus, sale_order, returned, landed, lots, named })
    }
}

/// Every event but lots and sales, checked and pushed onto its SKU's stream: the sales
/// some return names, and the lots some landed cost falls on.
fn other_events<'a>(
    inputs: &Inputs<'a>,
    skus: &mut SkuStreams<'a>,
    lots: &HashMap<&'a LotId, &'a Lot>,
    receipts: &HashMap<&'a ReceiptId, Vec<&'a Lot>>,
    spread_only: &HashSet<&'a LotId>,
    sales: &HashMap<&'a SaleId, Option<&'a Sale>>,
) -> Result<(HashSet<&'a SaleId>, HashSet<&'a LotId>), CostingError> {
    let mut returned = HashSet::new();
    let mut landed_lots = HashSet::new();
    let mut ids = HashSet::new();
    let mut once = |kind: EventKind, id: &'a EventId| {
        if ids.insert((kind, id)) { Ok(()) } else { Err(invalid(kind, id.as_str(), "it appears twice".into())) }
    };
    for ret in by_id(inputs.returns, |ret| &ret.return_id) {
        once(EventKind::Return, &ret.return_id)?;
        let Some(sale) = sales.get(&ret.sale_id).copied().flatten() else {
            return Err(CostingError::UnknownSale { return_id: ret.return_id.clone(), sale_id: ret.sale_id.clone() });
        };
        if ret.return_date < sale.sale_date {
            let reason = format!("it is dated before sale {}, which it returns", sale.sale_id);
            return Err(invalid(EventKind::Return, ret.return_id.as_str(), reason));
        }
        positive(EventKind::Return, &ret.return_id, ret.quantity)?;
        // A return at its sale's very instant comes right after the sale.
        let key = if ret.return_date == sale.sale_date {
            (ret.return_date, SALE_RANK, sale.sale_id.as_str(), ret.return_id.as_str())
        } else {
            (ret.return_date, 1, ret.return_id.as_str(), "")
        };
        returned.insert(&sale.sale_id);
        skus.push(&sale.sku, key, What::Return(ret, sale));
    }
    for adjustment in by_id(inputs.adjustments, |adjustment| &adjustment.adjustment_id) {
        let id = &adjustment.adjustment_id;
        once(EventKind::Adjustment, id)?;
        let date = adjustment.adjustment_date;
        if adjustment.quantity > Decimal::ZERO {
            let unit_cost = adjustment
                .unit_cost
                .ok_or_else(|| CostingError::AdjustmentWithoutCost { adjustment_id: id.clone() })?;
            if unit_cost.is_sign_negative() && !unit_cost.is_zero() {
                return Err(invalid(EventKind::Adjustment, id.as_str(), "its unit_cost is negative".into()));
            }
            skus.push(&adjustment.sku, (date, 2, id.as_str(), ""), What::AdjustmentIn(adjustment, unit_cost));
        } else if adjustment.quantity < Decimal::ZERO {
            let method = inputs.methods.at(date);
            let (named, sku) = (&adjustment.lot_id, &adjustment.sku);
            check_named_lot(lots, method, EventKind::Adjustment, EventRef::Other(id), sku, named)?;
            skus.push(&adjustment.sku, (date, 6, id.as_str(), ""), What::AdjustmentOut(adjustment));
        } else {
            return Err(invalid(EventKind::Adjustment, id.as_str(), "its quantity is zero".into()));
        }
    }
    for sent in by_id(inputs.supplier_returns, |sent| &sent.supplier_return_id) {
        once(EventKind::SupplierReturn, &sent.supplier_return_id)?;
        let lot = lots.get(&sent.lot_id).ok_or_else(|| CostingError::UnknownLot {
            kind: EventKind::SupplierReturn,
            id: sent.supplier_return_id.clone(),
            lot_id: sent.lot_id.clone(),
        })?;
        positive(EventKind::SupplierReturn, &sent.supplier_return_id, sent.quantity)?;
        let key = (sent.return_date, 7, sent.supplier_return_id.as_str(), "");
        let location = sent.location.as_ref().unwrap_or(&lot.location);
        skus.push(&lot.sku, key, What::SupplierReturn(sent, location));
    }
    for count in by_id(inputs.counts, |count| &count.count_id) {
        once(EventKind::Count, &count.count_id)?;
        if count.counted_quantity.is_sign_negative() && !count.counted_quantity.is_zero() {
            return Err(invalid(EventKind::Count, count.count_id.as_str(), "its counted_quantity is negative".into()));
        }
        if count.unit_cost.is_some_and(|cost| cost.is_sign_negative() && !cost.is_zero()) {
            return Err(invalid(EventKind::Count, count.count_id.as_str(), "its unit_cost is negative".into()));
        }
        skus.push(&count.sku, (count.count_date, 8, count.count_id.as_str(), ""), What::Count(count));
    }
    for transfer in by_id(inputs.transfers, |transfer| &transfer.transfer_id) {
        let id = &transfer.transfer_id;
        once(EventKind::Transfer, id)?;
        positive(EventKind::Transfer, id, transfer.quantity)?;
        if transfer.from_location == transfer.to_location {
            let reason = format!("it moves stock from {} to the same location", transfer.from_location);
            return Err(invalid(EventKind::Transfer, id.as_str(), reason));
        }
        skus.push(&transfer.sku, (transfer.transfer_date, 4, id.as_str(), ""), What::Transfer(transfer));
    }
    for landed in by_id(inputs.landed_costs, |landed| &landed.landed_cost_id) {
        once(EventKind::LandedCost, &landed.landed_cost_id)?;
        for (lot, share) in landed_shares(landed, lots, receipts)? {
            if spread_only.contains(&lot.lot_id) {
                continue;
            }
            let key = (landed.cost_date, 3, landed.landed_cost_id.as_str(), lot.lot_id.as_str());
            landed_lots.insert(&lot.lot_id);
            skus.push(&lot.sku, key, What::Landed(landed, &lot.lot_id, share));
        }
    }
    Ok((returned, landed_lots))
}

/// The first fault of a sale in input order: a quantity that is not positive, or a lot
/// named under specific identification that is not loaded or is another SKU's.
fn first_sale_fault(inputs: &Inputs<'_>, lots: &HashMap<&LotId, &Lot>) -> Option<CostingError> {
    inputs.sales.iter().find_map(|sale| {
        if not_positive(sale.quantity_sold) {
            let (sale_id, quantity_sold) = (sale.sale_id.clone(), sale.quantity_sold);
            return Some(CostingError::NonPositiveSale { sale_id, quantity_sold });
        }
        let (method, id) = (inputs.methods.at(sale.sale_date), EventRef::Sale(&sale.sale_id));
        check_named_lot(lots, method, EventKind::Sale, id, &sale.sku, &sale.lot_id).err()
    })
}

/// The first fault of a sale, refused before `error`, found later: where sales name
/// lots under specific identification (`named`), whether each names its SKU's own is
/// known only once each SKU is costed.
fn sale_fault_before(
    inputs: &Inputs<'_>,
    lots: &HashMap<&LotId, &Lot>,
    named: bool,
    error: CostingError,
) -> CostingError {
    if named { first_sale_fault(inputs, lots) } else { None }.unwrap_or(error)
}

/// Whether each of a SKU's sales `rows` that names a lot under specific identification
/// names one of the SKU's own lots, received in its `events`.
fn name_own_lots(methods: &Methods, events: &[Event<'_>], rows: &[SaleRow<'_>]) -> bool {
    let names_lot = |row: &&SaleRow<'_>| row.lot.is_some() && methods.at(row.date) == Method::SpecificIdentification;
    let mut named = rows.iter().filter(names_lot).peekable();
    if named.peek().is_none() {
        return true;
    }
    let mut own: Vec<&str> =
        events.iter().filter(|event| matches!(event.what, What::Receipt(..))).map(|event| event.key.2).collect();
    own.sort_unstable();
    named.all(|row| row.lot.is_some_and(|lot| own.binary_search(&lot.as_str()).is_ok()))
}

/// `quantity <= 0`, read off its sign and digits rather than compared.
fn not_positive(quantity: Decimal) -> bool {
    quantity.is_sign_negative() || quantity.is_zero()
}

/// Invalid event `id` of `kind`, for `reason`.
fn invalid(kind: EventKind, id: impl std::fmt::Display, reason: String) -> CostingError {
    CostingError::InvalidEvent { kind, id: id.to_string(), reason }
}

/// The hashes of ids, gathered to find one given more than once. They are not put in
/// one table (a table for a million misses the cache on every insert): they are spread
/// by their top bits into buckets, and each bucket's are put in a small table that
/// stays in cache, reused from bucket to bucket. Only where two hashes meet are the
/// ids compared.
struct IdHashes {
    state: foldhash::fast::FixedState,
    buckets: Vec<Vec<u64>>,
}

impl IdHashes {
    const BUCKET_BITS: u32 = 10;

    /// Buckets for `count` ids, each sized for its share and a margin (hashes spread
    /// evenly), so that they seldom grow while the ids are added.
    fn for_ids(count: usize) -> Self {
        let per_bucket = (count >> Self::BUCKET_BITS) * 5 / 4 + 8;
        let buckets = (0..1 << Self::BUCKET_BITS).map(|_| Vec::with_capacity(per_bucket)).collect();
        Self { state: foldhash::fast::FixedState::default(), buckets }
    }

    fn add(&mut self, id: &impl std::hash::Hash) {
        use std::hash::BuildHasher;
        let hash = self.state.hash_one(id);
        self.buckets[(hash >> (u64::BITS - Self::BUCKET_BITS)) as usize].push(hash);
    }

    /// The least id (byte order) given more than once, whatever the order of `ids`
    /// (the ids whose hashes were added).
    fn repeated<'x, T: std::hash::Hash + Ord + 'x>(&self, ids: impl Iterator<Item = &'x T>) -> Option<&'x T> {
        use std::hash::BuildHasher;
        let mut shared: HashSet<u64> = HashSet::new();
        // Open addressing on the hashes' low bits, at most half full; 0 marks a free
        // slot, so a hash is kept with its lowest bit set (two hashes that then meet
        // are only suspects: their ids are compared below).
        let mut table: Vec<u64> = Vec::new();
        for bucket in &self.buckets {
            let slots = (bucket.len() * 2).next_power_of_two();
            table.clear();
            table.resize(slots, 0);
            let mask = slots - 1;
            for &hash in bucket {
                let kept = hash | 1;
                let mut slot = hash as usize & mask;
                while table[slot] != 0 && table[slot] != kept {
                    slot = (slot + 1) & mask;
                }
                if table[slot] == kept {
                    shared.insert(kept);
                }
                table[slot] = kept;
            }
        }
        if shared.is_empty() {
            return None;
        }
        let mut suspects: Vec<&T> = ids.filter(|id| shared.contains(&(self.state.hash_one(id) | 1))).collect();
        suspects.sort_unstable();
        suspects.windows(2).find(|pair| pair[0] == pair[1]).map(|pair| pair[0])
    }
}

/// Events in id order: checked so, the same input in whatever order is refused for the
/// same reason.
fn by_id<T>(events: &[T], id: fn(&T) -> &EventId) -> Vec<&T> {
    let mut sorted: Vec<&T> = events.iter().collect();
    sorted.sort_by(|a, b| id(a).cmp(id(b)));
    sorted
}

fn positive(kind: EventKind, id: &EventId, quantity: Decimal) -> Result<(), CostingError> {
    if not_positive(quantity) {
        return Err(invalid(kind, id.as_str(), format!("its quantity {quantity} is not positive")));
    }
    Ok(())
}

/// Each named lot's share of a landed cost: one lot takes it all; a receipt's lots (in
/// lot id order) share it by quantity or value as loaded.
fn landed_shares<'a>(
    landed: &'a LandedCost,
    lots: &HashMap<&LotId, &'a Lot>,
    receipts: &HashMap<&ReceiptId, Vec<&'a Lot>>,
) -> Result<Vec<(&'a Lot, Decimal)>, CostingError> {
    let id = &landed.landed_cost_id;
    let refused = |reason: String| invalid(EventKind::LandedCost, id.as_str(), reason);
    if landed.amount <= Decimal::ZERO {
        return Err(refused(format!("its amount {} is not positive", landed.amount)));
    }
    let mut targets: Vec<&'a Lot> = match &landed.target {
        LandedTarget::Lot(lot_id) => vec![lots.get(lot_id).copied().ok_or_else(|| CostingError::UnknownLot {
            kind: EventKind::LandedCost,
            id: id.clone(),
            lot_id: lot_id.clone(),
        })?],
        LandedTarget::Receipt(receipt_id) => receipts.get(receipt_id).cloned().ok_or_else(|| {
            CostingError::UnknownReceipt { landed_cost_id: id.clone(), receipt_id: receipt_id.clone() }
        })?,
    };
    targets.sort_by(|a, b| a.lot_id.cmp(&b.lot_id));
    if let Some(late) = targets.iter().find(|lot| lot.received_date > landed.cost_date) {
        return Err(refused(format!("it is dated before lot {} was received", late.lot_id)));
    }
    let weights = targets
        .iter()
        .map(|lot| match landed.allocate_by {
            AllocateBy::Quantity => Some(lot.remaining_quantity),
            AllocateBy::Value => exact_mul(lot.remaining_quantity, lot.unit_cost()?),
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| CostingError::Overflow { kind: EventKind::LandedCost, id: id.to_string() })?;
    let shares = split(landed.amount, &weights).ok_or_else(|| {
        refused(format!("its lots had no {} when loaded to spread it by", landed.allocate_by.as_str()))
    })?;
    Ok(targets.into_iter().zip(shares).collect())
}

/// Refuses a lot named by an outflow costed by specific identification that is not
/// loaded, or is of another SKU than the outflow's (the other methods ignore it).
fn check_named_lot(
    lots: &HashMap<&LotId, &Lot>,
    method: Method,
    kind: EventKind,
    id: EventRef<'_>,
    sku: &Sku,
    lot_id: &Option<LotId>,
) -> Result<(), CostingError> {
    let (Method::SpecificIdentification, Some(lot_id)) = (method, lot_id) else { return Ok(()) };
    match lots.get(lot_id) {
        None => Err(CostingError::UnknownLot { kind, id: id.id(), lot_id: lot_id.clone() }),
        Some(lot) if lot.sku != *sku => {
            Err(invalid(kind, id, format!("it names lot {lot_id}, of SKU {}, not its own", lot.sku)))
        }
        Some(_) => Ok(()),
    }
}

/// Splits `amount` in proportion to `weights`, rounding each running total half away
/// from zero to the places of `amount` (at least cents), so that the parts add up to
/// `amount` exactly and each is within one unit of its last place of its exact share.
/// `None` when the weights add up to zero.
pub fn split(amount: Decimal, weights: &[Decimal]) -> Option<Vec<Decimal>> {
    let mut parts = Splitter::new(amount, exact_sum(weights.iter().copied())?)?;
    let last = weights.len().checked_sub(1)?;
    weights.iter().enumerate().map(|(index, weight)| parts.next(*weight, index == last)).collect()
}

/// [`split`]'s rule one weight at a time, for a caller that walks the parts rather than
/// keeping them (an outflow is costed without a list per sale).
struct Splitter {
    amount: Decimal,
    /// What the weights add up to.
    total: Decimal,
    /// The places every share rounds to ([`split_places`] of the amount).
    places: u32,
    running: Decimal,
    before: Decimal,
}

impl Splitter {
    /// `None` when the weights add up to zero.
    fn new(amount: Decimal, total: Decimal) -> Option<Self> {
        let places = split_places(amount);
        (total > Decimal::ZERO).then_some(Self { amount, total, places, running: Decimal::ZERO, before: Decimal::ZERO })
    }

    /// The part of the next weight; the `last` takes what is left of the amount (so a
    /// single weight takes it all without a division).
    fn next(&mut self, weight: Decimal, last: bool) -> Option<Decimal> {
        if last {
            return Some(self.amount - self.before);
        }
        self.running = exact_add(self.running, weight)?;
        let upto = self.share_upto(self.running)?;
        let part = upto - self.before;
        self.before = upto;
        Some(part)
    }

    /// The rounded share of the amount that weights adding up to `running` carry:
    /// amount × running ÷ total, in integers where they fit; else in decimals, divided
    /// first only where the product overflows.
    fn share_upto(&self, running: Decimal) -> Option<Decimal> {
        let Self { amount, total, places, .. } = *self;
        if let Some(share) = rounded_share(amount, running, total, places) {
            return Some(share);
        }
        let exact = amount.checked_mul(running).and_then(|product| product.checked_div(total));
        let share = exact.or_else(|| amount.checked_mul(running.checked_div(total)?))?;
        Some(share.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero))
    }
}

/// The places a split of `amount` rounds to: those `amount` needs (trailing zeros
/// dropped), at least cents. The mantissa is looked at only beyond cents.
pub(super) fn split_places(amount: Decimal) -> u32 {
    split_places_of(parts(amount))
}

/// A number as its mantissa and places, for the integer arithmetic of a split: a
/// `Decimal`'s, or a figure's.
type Parts = (i128, u32);

fn parts(value: Decimal) -> Parts {
    (value.mantissa(), value.scale())
}

fn split_places_of((mantissa, mut places): Parts) -> u32 {
    let mut mantissa = mantissa.unsigned_abs();
    while places > CENT_PLACES {
        let (tenth, digit) = div_rem(mantissa, 10);
        if digit != 0 {
            break;
        }
        mantissa = tenth;
        places -= 1;
    }
    places.max(CENT_PLACES)
}

/// Quotient and remainder, in 64 bits where both fit: there they take one instruction,
/// in 128 bits a call each.
fn div_rem(numerator: u128, denominator: u128) -> (u128, u128) {
    match (u64::try_from(numerator), u64::try_from(denominator)) {
        (Ok(n), Ok(d)) => ((n / d).into(), (n % d).into()),
        _ => (numerator / denominator, numerator % denominator),
    }
}

/// `amount × weight ÷ total` rounded once, half away from zero, to `places` (at most
/// 28): computed in 128-bit integers, quotient and remainder, so no digit beyond
/// `places` is rounded first (a decimal division keeps 28 digits and rounds them).
/// `None` where the integers do not fit; the caller then divides decimals.
pub(super) fn rounded_share(amount: Decimal, weight: Decimal, total: Decimal, places: u32) -> Option<Decimal> {
    let (mantissa, places) = rounded_share_of(parts(amount), parts(weight), parts(total), places)?;
    Decimal::try_from_i128_with_scale(mantissa, places).ok()
}

/// [`rounded_share`] of figures.
fn rounded_share_of(amount: Parts, weight: Parts, total: Parts, places: u32) -> Option<Parts> {
    // With x = X·10^-x.scale for each, the share in units of 10^-places is
    // A·W·10^(places + t - a - w) ÷ T.
    let exponent = (places + total.1) as i32 - (amount.1 + weight.1) as i32;
    let (amount_digits, weight_digits) = (amount.0.unsigned_abs(), weight.0.unsigned_abs());
    // Two 64-bit mantissas (figures, and most `Decimal`s) multiply in one instruction
    // and cannot overflow 128 bits.
    let mut numerator = match (u64::try_from(amount_digits), u64::try_from(weight_digits)) {
        (Ok(amount), Ok(weight)) => u128::from(amount) * u128::from(weight),
        _ => amount_digits.checked_mul(weight_digits)?,
    };
    let mut denominator = total.0.unsigned_abs();
    // Most shares keep the places of their operands: no power of ten scales either side.
    if exponent != 0 {
        let power = 10_u128.checked_pow(exponent.unsigned_abs())?;
        if exponent > 0 {
            numerator = numerator.checked_mul(power)?;
        } else {
            denominator = denominator.checked_mul(power)?;
        }
    }
    if denominator == 0 {
        return None;
    }
    let (quotient, remainder) = div_rem(numerator, denominator);
    // Half away from zero: up when the remainder is at least half the divisor.
    let magnitude = i128::try_from(quotient + u128::from(remainder >= denominator - remainder)).ok()?;
    let negative = (amount.0 < 0) ^ (weight.0 < 0) ^ (total.0 < 0);
    Some((if negative { -magnitude } else { magnitude }, places))
}

/// The part of `value` that `quantity` of `of` units carry: all of it for the last
/// units, else their proportional share rounded as [`split`] rounds.
pub(super) fn share_of(value: Decimal, quantity: Decimal, of: Decimal) -> Option<Decimal> {
    if value.is_zero() {
        return Some(Decimal::ZERO);
    }
    if quantity >= of {
        return Some(value);
    }
    Splitter::new(value, of)?.share_upto(quantity)
}

/// [`share_of`] of figures, where the share divides in integers.
pub(super) fn share_of_figures(value: Figure, quantity: Figure, of: Figure) -> Option<Figure> {
    if value.is_zero() {
        return Some(Figure::ZERO);
    }
    if quantity.compare(of)?.is_ge() {
        return Some(value);
    }
    if of.mantissa <= 0 {
        return None;
    }
    let figure = |figure: Figure| (i128::from(figure.mantissa), figure.scale);
    let places = split_places_of(figure(value));
    let (mantissa, places) = rounded_share_of(figure(value), figure(quantity), figure(of), places)?;
    Figure::new(i64::try_from(mantissa).ok()?, places)
}

/// The stock of a plain stream's one location, in figures, while [`SkuCosting::plain_run`]
/// costs its sales: what is on hand and, under the moving average, what the pool is
/// worth and what it holds beyond its layers' own values ([`Place`]).
struct PlainPool {
    on_hand: Figure,
    worth: Figure,
    pad: Figure,
    average: bool,
}

impl PlainPool {
    /// Draws `quantity` whole from a layer holding `remaining` at `unit_cost`, as
    /// [`SkuCosting::draw_fifo`] or [`SkuCosting::draw_lot`] and, under the moving
    /// average, [`SkuCosting::at_average`] do for a draw from one layer: what the layer
    /// holds after it, and under the moving average what the draw carries beyond its
    /// units' cost. `None`, the pool unchanged, where the layer holds less or a figure
    /// might not be what `Decimal`s give.
    fn draw(&mut self, quantity: Figure, remaining: Figure, unit_cost: Figure) -> Option<(Figure, Option<Figure>)> {
        if remaining.is_zero() || quantity.compare(remaining)?.is_gt() {
            return None;
        }
        // Not kept (a draw carries its layer, which carries its unit cost), but it must fit.
        let extended_cost = quantity.mul(unit_cost)?;
        let (left, on_hand) = (remaining.sub(quantity)?, self.on_hand.sub(quantity)?);
        if !self.average {
            self.on_hand = on_hand;
            return Some((left, None));
        }
        let cost = share_of_figures(self.worth, quantity, self.on_hand)?;
        let landed = cost.sub(extended_cost)?;
        // What the layer gave beyond the cost (none of its own: a plain layer carries no
        // landed value) stays in the pool.
        let pad = if landed.is_zero() { self.pad } else { self.pad.sub(landed)? };
        let worth = self.worth.sub(cost)?;
        *self = Self { on_hand, worth, pad, average: true };
        Some((left, Some(landed)))
    }
}

/// A layer's place in drawing order: (instant, rank of its kind, id, second id). The
/// ids are shared with the input where they can be (a lot's own id), not copied.
type LayerKey = (Timestamp, u8, Arc<str>, Option<Arc<str>>);

/// One layer of a SKU while its stream is costed.
struct LayerState {
    key: LayerKey,
    name: LotId,
    /// Where it is: an index into [`SkuCosting::places`].
    place: usize,
    /// The lot it is (or was transferred from), which specific identification draws on.
    origin: Option<usize>,
    remaining: Decimal,
    unit_cost: Decimal,
    landed: Decimal,
    /// For a lot a landed cost falls on, and layers transferred from it: who took its
    /// units, in order (the cost's share follows them).
    takers: Option<Vec<Taker>>,
}

struct Taker {
    kind: MovementKind,
    id: EventId,
    quantity: Decimal,
    /// For a transfer: the layer the units became at their destination.
    into: Option<usize>,
}

/// One location's stock of the SKU.
struct Place {
    location: Location,
    /// Indices into `layers`, in drawing order.
    order: Vec<usize>,
    /// The first entry of `order` that may still hold stock.
    head: usize,
    /// What the layers here hold.
    on_hand: Decimal,
    /// Under the moving average, what the pool is worth beyond its layers' own values
    /// (each outflow at the average leaves the difference here), and whether an outflow
    /// has been costed at the average since the layers were last restated at it
    /// ([`SkuCosting::settle_at_average`]).
    pad: Decimal,
    averaged: bool,
    /// What the stock here is worth ([`SkuCosting::value`]), kept up as it changes so
    /// that an outflow at the average need not add up every layer. `None` where no
    /// outflow of the SKU is at the average, or once it no longer fits in a `Decimal`.
    worth: Option<Decimal>,
}

impl Place {
    /// Adds `change` (`None`: too large) to what the stock here is worth, where it is kept.
    fn revalue(&mut self, change: impl FnOnce() -> Option<Decimal>) {
        if let Some(worth) = self.worth {
            self.worth = change().and_then(|change| exact_add(worth, change));
        }
    }
}

/// What a sale took from one layer, less what returns have brought back since.
struct SalePart {
    layer: usize,
    quantity: Decimal,
    unit_cost: Decimal,
    landed: Decimal,
}

/// Units drawn from one layer by one outflow.
#[derive(Clone, Copy)]
struct Draw {
    layer: usize,
    quantity: Decimal,
    unit_cost: Decimal,
    /// `quantity × unit_cost`, exact.
    extended_cost: Decimal,
    /// What the units cost beyond that: their share of the layer's landed value, or
    /// under the moving average the difference to the average.
    landed: Decimal,
}

impl Draw {
    fn cost(&self) -> Option<Decimal> {
        exact_add(self.extended_cost, self.landed)
    }
}

/// The event an outflow is for, named only where a shortfall, an error or a landed
/// cost's taker needs its id (a sale's id is then read and shared, not for every sale).
#[derive(Clone, Copy)]
enum EventRef<'x> {
    Sale(&'x SaleId),
    Other(&'x EventId),
}

impl EventRef<'_> {
    fn id(self) -> EventId {
        match self {
            Self::Sale(sale_id) => EventId::from(sale_id),
            Self::Other(id) => id.clone(),
        }
    }
}

impl std::fmt::Display for EventRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sale(sale_id) => sale_id.fmt(f),
            Self::Other(id) => id.fmt(f),
        }
    }
}

struct SkuCosting<'a, 's> {
    methods: &'s Methods,
    sku: &'a Sku,
    with_returns: &'s HashSet<&'a SaleId>,
    with_landed: &'s HashSet<&'a LotId>,
    layers: Vec<LayerState>,
    /// Each location's stock, in the order the stream first names them.
    places: Vec<Place>,
    lots: HashMap<&'a LotId, usize>,
    sale_parts: HashMap<&'a SaleId, Vec<SalePart>>,
    /// Per sale: units returned so far, restocked or not.
    returned: HashMap<&'a SaleId, Decimal>,
    /// Unit cost of the latest lot received so far (what a count surplus is valued at).
    latest_lot_cost: Option<Decimal>,
    /// The draws of the outflow costed last: one list reused, not one made and moved
    /// per outflow.
    draws: Vec<Draw>,
}

impl<'a, 's> SkuCosting<'a, 's> {
    fn new(
        methods: &'s Methods,
        sku: &'a Sku,
        with_returns: &'s HashSet<&'a SaleId>,
        with_landed: &'s HashSet<&'a LotId>,
    ) -> Self {
        Self {
            methods,
            sku,
            with_returns,
            with_landed,
            layers: Vec::new(),
            places: Vec::new(),
            lots: HashMap::new(),
            sale_parts: HashMap::new(),
            returned: HashMap::new(),
            latest_lot_cost: None,
            draws: Vec::new(),
        }
    }

    /// Costs the SKU's `events` and `sales` (each in order) merged in order.
    fn run(
        mut self,
        events: &[Event<'a>],
        sales: &[SaleRow<'a>],
        costing: &mut Costing<'a>,
    ) -> Result<(), CostingError> {
        let mut parked = false;
        let plain = self.plain(events);
        // Most of a SKU's events are receipts, each a layer: room for them up front.
        self.layers.reserve(events.len());
        self.lots.reserve(events.len());
        let (mut events, mut sales) = (events.iter().peekable(), sales.iter().peekable());
        loop {
            let sale_next = match (events.peek(), sales.peek()) {
                (Some(event), Some(sale)) => sale.before(event),
                (None, Some(_)) => true,
                (_, None) => false,
            };
            let shortfall = if sale_next {
                if plain && !parked && self.plain_run(&mut sales, events.peek().copied(), costing) {
                    continue;
                }
                let sale = sales.next().expect("peeked");
                // A parked SKU's later sales stay uncosted.
                if parked {
                    continue;
                }
                self.sale(sale, costing)?
            } else {
                let Some(event) = events.next() else { break };
                // Its other later events too; its lots are still in stock.
                if parked && !matches!(event.what, What::Receipt(..)) {
                    continue;
                }
                self.apply(event, costing)?
            };
            if let Some(shortfall) = shortfall {
                costing.shortfalls.push(shortfall);
                parked = true;
            }
        }
        for place in 0..self.places.len() {
            self.settle_at_average(place)?;
        }
        let mut places: Vec<&Place> = self.places.iter().collect();
        places.sort_by(|a, b| a.location.cmp(&b.location));
        for place in places {
            for &index in &place.order {
                let layer = &self.layers[index];
                costing.layers.push(Layer {
                    layer: layer.name.clone(),
                    sku: self.sku.clone(),
                    location: place.location.clone(),
                    received_date: layer.key.0,
                    remaining_quantity: layer.remaining,
                    unit_cost: layer.unit_cost,
                    landed: layer.landed,
                });
            }
        }
        // Numbered as the draws of this SKU's sales number them.
        let drawn = self.layers.into_iter().map(|layer| DrawnLayer { name: layer.name, unit_cost: layer.unit_cost });
        costing.drawn_layers.extend(drawn);
        Ok(())
    }

    /// Whether the SKU's stream is plain: lots and sales alone, no landed cost on its
    /// lots, and one method throughout (most SKUs, most of the time). Its layers then
    /// carry no landed value, no sale of it keeps its parts (a return is an event of
    /// its sale's SKU), and its sales draw as [`Self::plain_run`] does where they can.
    fn plain(&self, events: &[Event<'a>]) -> bool {
        self.methods.changes.is_empty()
            && events.iter().all(|event| match event.what {
                What::Receipt(lot, _) => !self.with_landed.contains(&lot.lot_id),
                _ => false,
            })
    }

    /// Costs the sales of a plain stream ([`Self::plain`]) that come next, before `until`
    /// (its next other event), for as long as each is drawn whole from one layer at the
    /// one location stocked (most sales): the head layer, or the lot it names under
    /// specific identification. It costs them in figures ([`Figure`]) rather than
    /// `Decimal`s: what is on hand, what the pool is worth and what the head layer holds
    /// are kept as integers from sale to sale, and made `Decimal`s again when the run
    /// stops. It stops before the first sale it cannot cost so (one that draws several
    /// layers, at another location, short, or with a figure that might not be what
    /// `Decimal`s give), which [`Self::sale`] then costs. `false`: it costed none.
    fn plain_run(
        &mut self,
        sales: &mut std::iter::Peekable<std::slice::Iter<'_, SaleRow<'a>>>,
        until: Option<&Event<'a>>,
        costing: &mut Costing<'a>,
    ) -> bool {
        let average = self.methods.initial == Method::MovingAverage;
        let [stock] = self.places.as_slice() else { return false };
        // A zero pad's sign and places never show: what is next added to it is taken whole.
        let pad = if stock.pad.is_zero() { Some(Figure::ZERO) } else { Figure::of(stock.pad) };
        let (Some(on_hand), Some(worth), Some(pad)) = (
            Figure::of(stock.on_hand),
            if average { stock.worth.and_then(Figure::of) } else { Some(Figure::ZERO) },
            pad,
        ) else {
            return false;
        };
        let mut pool = PlainPool { on_hand, worth, pad, average };
        let (first_layer, mut head, mut costed) = (costing.drawn_layers.len(), stock.head, false);
        // The head layer: its index, what it holds, what a unit of it costs.
        let mut layer: Option<(usize, Figure, Figure)> = None;
        while let Some(row) = sales.peek() {
            let stock = &self.places[0];
            if until.is_some_and(|event| !row.before(event)) || !same_text(stock.location.as_str(), row.location) {
                break;
            }
            let head_index = layer.map(|(index, ..)| index).or_else(|| stock.order.get(head).copied());
            // The lot the sale names under specific identification (its one layer: a
            // plain stream transfers none), else the head layer.
            let Some(index) = self.named_lot(row.date, row.lot).unwrap_or(head_index) else { break };
            let (remaining, unit_cost) = match layer {
                Some((head_index, remaining, unit_cost)) if head_index == index => (remaining, unit_cost),
                _ => {
                    let state = &self.layers[index];
                    let (Some(remaining), Some(unit_cost)) = (Figure::of(state.remaining), Figure::of(state.unit_cost))
                    else {
                        break;
                    };
                    (remaining, unit_cost)
                }
            };
            let Ok(drawn) = u32::try_from(first_layer + index) else { break };
            let Some((left, landed)) =
                Figure::of(row.quantity).and_then(|quantity| pool.draw(quantity, remaining, unit_cost))
            else {
                break;
            };
            let landed = landed.map_or(Decimal::ZERO, Figure::decimal);
            // The sale's whole quantity, `row.quantity`, from one layer.
            costing.sale_draws.push(SaleDraw { sale: row.sale, layer: drawn, part: SaleDraw::WHOLE_SALE, landed });
            sales.next();
            costed = true;
            if Some(index) != head_index {
                self.layers[index].remaining = left.decimal();
            } else if left.is_zero() {
                self.layers[index].remaining = left.decimal();
                head += 1;
                layer = None;
            } else {
                layer = Some((index, left, unit_cost));
            }
        }
        if let Some((index, remaining, _)) = layer {
            self.layers[index].remaining = remaining.decimal();
        }
        let stock = &mut self.places[0];
        stock.head = head;
        stock.on_hand = pool.on_hand.decimal();
        if average {
            stock.worth = Some(pool.worth.decimal());
            stock.pad = pool.pad.decimal();
            stock.averaged |= costed;
        }
        costed
    }

    /// The last outflow's draws as the draws of `sale`.
    fn push_sale_draws(&self, sale: &'a Sale, costing: &mut Costing<'a>) -> Result<(), CostingError> {
        let first_layer = costing.drawn_layers.len();
        for draw in &self.draws {
            costing.sale_draws.push(SaleDraw::of(sale, first_layer, draw, &mut costing.part_quantities)?);
        }
        Ok(())
    }

    /// The index of `location`'s stock, made empty the first time it is named.
    fn place(&mut self, location: &Location) -> usize {
        self.find_place(location.as_str()).unwrap_or_else(|| self.add_place(location))
    }

    /// The index of the stock at the location named `text`, if any is kept yet.
    fn find_place(&self, text: &str) -> Option<usize> {
        self.places.iter().position(|place| same_text(place.location.as_str(), text))
    }

    fn add_place(&mut self, location: &Location) -> usize {
        self.places.push(Place {
            location: location.clone(),
            // Most SKUs keep all their layers at their first place: room for as many as
            // `run` made room for.
            order: Vec::with_capacity(if self.places.is_empty() { self.layers.capacity() } else { 0 }),
            head: 0,
            on_hand: Decimal::ZERO,
            pad: Decimal::ZERO,
            averaged: false,
            worth: self.methods.uses(Method::MovingAverage).then_some(Decimal::ZERO),
        });
        self.places.len() - 1
    }

    /// Costs one sale; returns the shortfall that parks the SKU there, if it does.
    fn sale(&mut self, row: &SaleRow<'a>, costing: &mut Costing<'a>) -> Result<Option<Shortfall>, CostingError> {
        let (sale, date) = (row.sale, row.date);
        let place = self.find_place(row.location).unwrap_or_else(|| self.add_place(&sale.location));
        let named = self.named_lot(date, row.lot);
        let id = EventRef::Sale(&sale.sale_id);
        if let Some(shortfall) = self.outflow(place, row.quantity, MovementKind::SaleLanded, id, date, named)? {
            return Ok(Some(shortfall));
        }
        self.push_sale_draws(sale, costing)?;
        if !self.with_returns.is_empty() && self.with_returns.contains(&sale.sale_id) {
            let parts = self.draws.iter().map(|&Draw { layer, quantity, unit_cost, landed, .. }| SalePart {
                layer,
                quantity,
                unit_cost,
                landed,
            });
            self.sale_parts.insert(&sale.sale_id, parts.collect());
        }
        Ok(None)
    }

    /// Costs one event other than a sale; returns the shortfall that parks the SKU
    /// there, if it does.
    fn apply(&mut self, event: &Event<'a>, costing: &mut Costing) -> Result<Option<Shortfall>, CostingError> {
        let date = event.key.0;
        match event.what {
            What::Receipt(lot, unit_cost) => {
                let place = self.place(&lot.location);
                let key = (date, 0, lot.lot_id.shared(), None);
                let index = self.add_layer(place, key, lot.lot_id.clone(), lot.remaining_quantity, unit_cost)?;
                self.layers[index].origin = Some(index);
                self.lots.insert(&lot.lot_id, index);
                self.latest_lot_cost = Some(unit_cost);
            }
            What::Return(ret, sale) => self.customer_return(ret, sale, date, costing)?,
            What::AdjustmentIn(adjustment, unit_cost) => {
                let name = LotId::layer(format!("adj:{}", adjustment.adjustment_id));
                let id = &adjustment.adjustment_id;
                let place = self.place(&adjustment.location);
                let key = (date, 2, "adj".into(), Some(id.shared()));
                let layer = self.add_layer(place, key, name, adjustment.quantity, unit_cost)?;
                let cost =
                    exact_mul(adjustment.quantity, unit_cost).ok_or_else(|| overflow(EventKind::Adjustment, id))?;
                let kind = MovementKind::AdjustmentIn;
                costing.movements.push(self.movement(kind, id, date, layer, adjustment.quantity, cost));
            }
            What::AdjustmentOut(adjustment) => {
                let id = &adjustment.adjustment_id;
                let place = self.place(&adjustment.location);
                let named = self.named_lot(date, adjustment.lot_id.as_ref());
                let kind = MovementKind::AdjustmentOut;
                if let Some(shortfall) =
                    self.outflow(place, -adjustment.quantity, kind, EventRef::Other(id), date, named)?
                {
                    return Ok(Some(shortfall));
                }
                self.record_draws(kind, id, date, costing)?;
            }
            What::SupplierReturn(sent, location) => {
                let id = &sent.supplier_return_id;
                let place = self.place(location);
                let lot = Some(self.lots.get(&sent.lot_id).copied());
                if let Some(shortfall) =
                    self.outflow(place, sent.quantity, MovementKind::SupplierReturn, EventRef::Other(id), date, lot)?
                {
                    return Ok(Some(shortfall));
                }
                self.record_draws(MovementKind::SupplierReturn, id, date, costing)?;
            }
            What::Transfer(transfer) => return self.transfer(transfer, date, costing),
            What::Count(count) => {
                let id = &count.count_id;
                let place = self.place(&count.location);
                let difference = exact_sub(count.counted_quantity, self.places[place].on_hand)
                    .ok_or_else(|| overflow(EventKind::Count, id))?;
                if difference < Decimal::ZERO {
                    let short =
                        self.outflow(place, -difference, MovementKind::CountDeficit, EventRef::Other(id), date, None)?;
                    debug_assert!(short.is_none(), "a count's deficit is never more than is on hand");
                    self.record_draws(MovementKind::CountDeficit, id, date, costing)?;
                } else if difference > Decimal::ZERO {
                    let Some(unit_cost) = count.unit_cost.or(self.latest_lot_cost) else {
                        return Ok(Some(self.shortfall(place, EventKind::Count, id.clone(), date, difference)));
                    };
                    let name = LotId::layer(format!("count:{id}"));
                    let key = (date, 2, "count".into(), Some(id.shared()));
                    let layer = self.add_layer(place, key, name, difference, unit_cost)?;
                    let cost = exact_mul(difference, unit_cost).ok_or_else(|| overflow(EventKind::Count, id))?;
                    costing.movements.push(self.movement(
                        MovementKind::CountSurplus,
                        id,
                        date,
                        layer,
                        difference,
                        cost,
                    ));
                }
            }
            What::Landed(landed, lot_id, share) => self.landed_cost(landed, lot_id, share, date, costing)?,
        }
        Ok(None)
    }

    fn shortfall(
        &self,
        place: usize,
        event_kind: EventKind,
        event_id: EventId,
        event_date: Timestamp,
        needed: Decimal,
    ) -> Shortfall {
        let Place { location, on_hand, .. } = &self.places[place];
        let quantity_short = if event_kind == EventKind::Count { needed } else { needed - on_hand };
        Shortfall {
            sku: self.sku.clone(),
            event_kind,
            event_id,
            event_date,
            quantity_short,
            on_hand: *on_hand,
            location: location.clone(),
        }
    }

    /// A movement on `layer`, at the layer's location.
    fn movement(
        &self,
        kind: MovementKind,
        event_id: &EventId,
        event_date: Timestamp,
        layer: usize,
        quantity: Decimal,
        cost: Decimal,
    ) -> Movement {
        let state = &self.layers[layer];
        Movement {
            kind,
            sku: self.sku.clone(),
            event_id: event_id.clone(),
            event_date,
            layer: state.name.clone(),
            quantity,
            cost,
            consumer: None,
            location: self.places[state.place].location.clone(),
        }
    }

    /// Adds a layer at `place` in drawing order and returns its index.
    fn add_layer(
        &mut self,
        place: usize,
        key: LayerKey,
        name: LotId,
        remaining: Decimal,
        unit_cost: Decimal,
    ) -> Result<usize, CostingError> {
        let stock = &mut self.places[place];
        stock.on_hand = exact_add(stock.on_hand, remaining)
            .ok_or_else(|| CostingError::Overflow { kind: EventKind::Receipt, id: name.to_string() })?;
        stock.revalue(|| exact_mul(remaining, unit_cost));
        let index = self.layers.len();
        let layers = &self.layers;
        // Layers mostly arrive in drawing order: after the last, found without a search.
        let at = match stock.order.last() {
            Some(&last) if layers[last].key >= key => stock.order.partition_point(|&other| layers[other].key < key),
            _ => stock.order.len(),
        };
        stock.order.insert(at, index);
        stock.head = stock.head.min(at);
        let takers = (key.1 == 0 && key.3.is_none() && self.with_landed.contains(&name)).then(Vec::new);
        let landed = Decimal::ZERO;
        self.layers.push(LayerState { key, name, place, origin: None, remaining, unit_cost, landed, takers });
        Ok(index)
    }

    /// The lot an outflow at `date` names, when specific identification costs it
    /// (`Some(None)`: a lot not received yet, holding nothing).
    fn named_lot(&self, date: Timestamp, lot_id: Option<&LotId>) -> Option<Option<usize>> {
        // Most outflows name no lot: the method of their instant is not looked up.
        let lot_id = lot_id?;
        (self.methods.at(date) == Method::SpecificIdentification).then(|| self.lots.get(lot_id).copied())
    }

    /// Draws an outflow of `quantity` at `date` from `place`: from one lot's units there
    /// (`Some`: `None` inside for a lot not received yet) or from the layers in order;
    /// under moving average, each draw then carries its share of the place's pool's
    /// average cost instead of its layer's. The draws are left in `self.draws`; `Some`:
    /// the shortfall that parks the SKU there instead (nothing drawn).
    fn outflow(
        &mut self,
        place: usize,
        quantity: Decimal,
        kind: MovementKind,
        id: EventRef<'_>,
        date: Timestamp,
        lot: Option<Option<usize>>,
    ) -> Result<Option<Shortfall>, CostingError> {
        self.draws.clear();
        let pool = match self.methods.at(date) {
            Method::MovingAverage => {
                let value = self.value(place).ok_or_else(|| overflow(kind.event_kind(), &id))?;
                Some((value, self.places[place].on_hand))
            }
            Method::Fifo | Method::SpecificIdentification => {
                self.settle_at_average(place)?;
                None
            }
        };
        let short = match lot {
            Some(lot) => self.draw_lot(place, lot, quantity, kind, id, date)?,
            None if self.draw_fifo(place, quantity, kind, id)? => None,
            None => Some(self.shortfall(place, kind.event_kind(), id.id(), date, quantity)),
        };
        match pool {
            Some((value, held)) if short.is_none() => self.at_average(place, value, held, quantity, kind, id)?,
            // What the stock here is worth, where kept, loses what the draws took (at
            // the average, it is set to the pool's value less the cost instead).
            _ => {
                let stock = &mut self.places[place];
                for draw in &self.draws {
                    stock.revalue(|| draw.cost().map(|drawn| -drawn));
                }
            }
        }
        Ok(short)
    }

    /// What the stock at `place` is worth: each layer's units at its unit cost, the
    /// value beyond it (landed costs, revaluations at the average), and the pool's own.
    fn value(&self, place: usize) -> Option<Decimal> {
        let stock = &self.places[place];
        let Some(worth) = stock.worth else { return self.layers_value(place) };
        debug_assert!(
            self.layers_value(place).is_none_or(|summed| summed == worth),
            "the worth kept at {} is what its layers add up to",
            stock.location
        );
        Some(worth)
    }

    /// [`Self::value`] added up layer by layer.
    fn layers_value(&self, place: usize) -> Option<Decimal> {
        let stock = &self.places[place];
        stock.order[stock.head..].iter().try_fold(stock.pad, |total, &index| {
            let layer = &self.layers[index];
            exact_add(total, exact_add(exact_mul(layer.remaining, layer.unit_cost)?, layer.landed)?)
        })
    }

    /// Values `self.draws` (an outflow of `quantity` from a pool worth `value` for `held`
    /// units) at the average: the outflow costs `quantity × value ÷ held`, rounded as
    /// [`split`] rounds (all of `value` for the last units), spread over its draws by
    /// quantity. What the draws' layers would have given beyond that stays in the pool
    /// (`pad`), so that the stock is worth the pool's value less the cost, exactly.
    #[allow(clippy::too_many_arguments)]
    fn at_average(
        &mut self,
        place: usize,
        value: Decimal,
        held: Decimal,
        quantity: Decimal,
        kind: MovementKind,
        id: EventRef<'_>,
    ) -> Result<(), CostingError> {
        let too_large = || overflow(kind.event_kind(), &id);
        let cost = share_of(value, quantity, held).ok_or_else(too_large)?;
        // What the draws' layers gave beyond the cost stays in the pool.
        let beyond = if let [draw] = self.draws.as_mut_slice() {
            // One draw (most outflows) takes the whole cost; its layer gave its own
            // landed share beyond the units' cost, and the draw now carries the rest.
            let layers_share = draw.landed;
            draw.landed = exact_sub(cost, draw.extended_cost).ok_or_else(too_large)?;
            exact_sub(layers_share, draw.landed).ok_or_else(too_large)?
        } else {
            // The cost spread over the draws by quantity, as `split` spreads it.
            let mut parts = Splitter::new(cost, quantity).ok_or_else(too_large)?;
            let last = self.draws.len().saturating_sub(1);
            let mut drawn = Decimal::ZERO;
            for (index, draw) in self.draws.iter_mut().enumerate() {
                let part = parts.next(draw.quantity, index == last).ok_or_else(too_large)?;
                drawn = exact_add(drawn, draw.cost().ok_or_else(too_large)?).ok_or_else(too_large)?;
                draw.landed = exact_sub(part, draw.extended_cost).ok_or_else(too_large)?;
            }
            exact_sub(drawn, cost).ok_or_else(too_large)?
        };
        let stock = &mut self.places[place];
        stock.pad = exact_add(stock.pad, beyond).ok_or_else(too_large)?;
        // What the stock is worth, where kept: the pool's value less the cost.
        if stock.worth.is_some() {
            stock.worth = exact_sub(value, cost);
        }
        stock.averaged = true;
        Ok(())
    }

    /// Restates the layers in stock at `place` at its pool's average, once an outflow
    /// has been costed at it: the pool's value split over them by quantity (rounded as
    /// [`split`] rounds), so that they are worth the pool exactly and a method that draws
    /// layers (FIFO, specific identification) goes on from there. Before an outflow by
    /// another method, and when the SKU's costing ends.
    fn settle_at_average(&mut self, place: usize) -> Result<(), CostingError> {
        if !self.places[place].averaged {
            return Ok(());
        }
        let too_large = || CostingError::Overflow { kind: EventKind::Receipt, id: self.sku.to_string() };
        let value = self.value(place).ok_or_else(too_large)?;
        let stock = &self.places[place];
        let stocked: Vec<usize> = stock.order[stock.head..]
            .iter()
            .copied()
            .filter(|&index| !self.layers[index].remaining.is_zero())
            .collect();
        if stocked.is_empty() {
            debug_assert!(value.is_zero(), "an empty pool is worth nothing");
        } else {
            // The layers hold more than nothing: a split that fails is one too large.
            let quantities: Vec<Decimal> = stocked.iter().map(|&index| self.layers[index].remaining).collect();
            let shares = split(value, &quantities).ok_or_else(too_large)?;
            for (index, share) in stocked.into_iter().zip(shares) {
                let layer = &mut self.layers[index];
                let own = exact_mul(layer.remaining, layer.unit_cost).ok_or_else(too_large)?;
                layer.landed = exact_sub(share, own).ok_or_else(too_large)?;
            }
        }
        let stock = &mut self.places[place];
        stock.pad = Decimal::ZERO;
        stock.averaged = false;
        Ok(())
    }

    /// Draws `quantity` from the layers at `place` in order, or nothing (`false`) when
    /// they hold less.
    fn draw_fifo(
        &mut self,
        place: usize,
        quantity: Decimal,
        kind: MovementKind,
        id: EventRef<'_>,
    ) -> Result<bool, CostingError> {
        if self.places[place].on_hand < quantity {
            return Ok(false);
        }
        let mut needed = quantity;
        while !needed.is_zero() {
            let stock = &self.places[place];
            let layer = stock.order[stock.head];
            let take = needed.min(self.layers[layer].remaining);
            if !take.is_zero() {
                let draw = self.draw_from(layer, take, kind, id)?;
                self.draws.push(draw);
                needed -= take;
            }
            if self.layers[layer].remaining.is_zero() {
                self.places[place].head += 1;
            }
        }
        Ok(true)
    }

    /// Draws `quantity` from one lot's units at `place` (the lot itself, and layers
    /// transferred from it, in drawing order; `None`: a lot not received yet), or the
    /// shortfall that parks the SKU there, naming what the lot held there (nothing drawn).
    fn draw_lot(
        &mut self,
        place: usize,
        lot: Option<usize>,
        quantity: Decimal,
        kind: MovementKind,
        id: EventRef<'_>,
        date: Timestamp,
    ) -> Result<Option<Shortfall>, CostingError> {
        let stock = &self.places[place];
        let of_lot: Vec<usize> = match lot {
            Some(lot) => stock.order[stock.head..]
                .iter()
                .copied()
                .filter(|&index| self.layers[index].origin == Some(lot) && !self.layers[index].remaining.is_zero())
                .collect(),
            None => Vec::new(),
        };
        let held = exact_sum(of_lot.iter().map(|&index| self.layers[index].remaining))
            .ok_or_else(|| overflow(kind.event_kind(), &id))?;
        if held < quantity {
            let mut shortfall = self.shortfall(place, kind.event_kind(), id.id(), date, quantity);
            shortfall.on_hand = held;
            shortfall.quantity_short = quantity - held;
            return Ok(Some(shortfall));
        }
        let mut needed = quantity;
        for layer in of_lot {
            if needed.is_zero() {
                break;
            }
            let take = needed.min(self.layers[layer].remaining);
            let draw = self.draw_from(layer, take, kind, id)?;
            self.draws.push(draw);
            needed -= take;
        }
        Ok(None)
    }

    /// Takes `quantity` (no more than it holds) from one layer with its share of the
    /// layer's landed value, noting the taker on a lot. What the place's stock is worth
    /// is [`Self::outflow`]'s to lower, once the method's cost is known.
    fn draw_from(
        &mut self,
        layer: usize,
        quantity: Decimal,
        kind: MovementKind,
        id: EventRef<'_>,
    ) -> Result<Draw, CostingError> {
        let state = &mut self.layers[layer];
        let too_large = || overflow(kind.event_kind(), &id);
        let landed = share_of(state.landed, quantity, state.remaining).ok_or_else(too_large)?;
        state.landed -= landed;
        state.remaining = exact_sub(state.remaining, quantity).ok_or_else(too_large)?;
        let unit_cost = state.unit_cost;
        let draw = Draw {
            layer,
            quantity,
            unit_cost,
            extended_cost: exact_mul(quantity, unit_cost).ok_or_else(too_large)?,
            landed,
        };
        self.places[state.place].on_hand -= quantity;
        debug_assert!(state.remaining >= Decimal::ZERO, "a layer never goes negative");
        if let Some(takers) = &mut state.takers {
            takers.push(Taker { kind, id: id.id(), quantity, into: None });
        }
        Ok(draw)
    }

    /// The last outflow's draws as movements of `kind`.
    fn record_draws(
        &self,
        kind: MovementKind,
        id: &EventId,
        date: Timestamp,
        costing: &mut Costing,
    ) -> Result<(), CostingError> {
        for draw in &self.draws {
            let cost = draw.cost().ok_or_else(|| overflow(kind.event_kind(), id))?;
            costing.movements.push(self.movement(kind, id, date, draw.layer, draw.quantity, cost));
        }
        Ok(())
    }

    /// A transfer: units leave the source location as an outflow there (first in,
    /// first out, or at the average), and each layer they leave becomes a layer at the
    /// destination, `transfer:{transfer_id}:{layer}`, at the same cost and in the same
    /// place in drawing order as the layer it came from (its original receipt date).
    fn transfer(
        &mut self,
        transfer: &'a Transfer,
        date: Timestamp,
        costing: &mut Costing,
    ) -> Result<Option<Shortfall>, CostingError> {
        let id = &transfer.transfer_id;
        let (from, to) = (self.place(&transfer.from_location), self.place(&transfer.to_location));
        if let Some(shortfall) =
            self.outflow(from, transfer.quantity, MovementKind::TransferOut, EventRef::Other(id), date, None)?
        {
            return Ok(Some(shortfall));
        }
        self.record_draws(MovementKind::TransferOut, id, date, costing)?;
        // Taken while the layers they arrive as are added, and given back for reuse.
        let draws = std::mem::take(&mut self.draws);
        for &draw in &draws {
            let Draw { layer, quantity, unit_cost, landed, .. } = draw;
            let source = &self.layers[layer];
            let (received, rank, first, second) = &source.key;
            let second = second.as_deref().unwrap_or_default();
            let key = (*received, *rank, first.clone(), Some(format!("{second}>{id}").into()));
            let name = LotId::layer(format!("transfer:{id}:{}", source.name));
            let (origin, follows_landed) = (source.origin, source.takers.is_some());
            let arrived = self.add_layer(to, key, name, quantity, unit_cost)?;
            let state = &mut self.layers[arrived];
            state.origin = origin;
            state.landed = landed;
            self.places[to].revalue(|| Some(landed));
            state.takers = follows_landed.then(Vec::new);
            // The draw noted the transfer as the layer's latest taker: its units went here.
            if let Some(taker) = self.layers[layer].takers.as_mut().and_then(|takers| takers.last_mut()) {
                taker.into = Some(arrived);
            }
            let cost = draw.cost().ok_or_else(|| overflow(EventKind::Transfer, id))?;
            costing.movements.push(self.movement(MovementKind::TransferIn, id, date, arrived, quantity, cost));
        }
        self.draws = draws;
        Ok(None)
    }

    /// A customer return: units come back from the sale's parts, last drawn first;
    /// restocked ones become layers of their own at the parts' costs, at the return's
    /// location.
    fn customer_return(
        &mut self,
        ret: &'a CustomerReturn,
        sale: &'a Sale,
        date: Timestamp,
        costing: &mut Costing,
    ) -> Result<(), CostingError> {
        let id = &ret.return_id;
        let returned = self.returned.entry(&sale.sale_id).or_default();
        let returnable = sale.quantity_sold - *returned;
        if ret.quantity > returnable {
            return Err(CostingError::ReturnExceedsSale {
                return_id: id.clone(),
                sale_id: sale.sale_id.clone(),
                requested: ret.quantity,
                returnable,
            });
        }
        *returned += ret.quantity;
        let too_large = || overflow(EventKind::Return, id);
        let parts = self.sale_parts.get_mut(&sale.sale_id).expect("a sale is costed before its returns");
        // A sale costed at the average: the returned units take their share of what is
        // left of its whole cost (the pool model's rule), spread over the parts they
        // come back from by quantity.
        let average_value = if self.methods.at(sale.sale_date) == Method::MovingAverage {
            let (mut quantity, mut value) = (Decimal::ZERO, Decimal::ZERO);
            for part in parts.iter() {
                let part_value =
                    exact_add(exact_mul(part.quantity, part.unit_cost).ok_or_else(too_large)?, part.landed);
                value = exact_add(value, part_value.ok_or_else(too_large)?).ok_or_else(too_large)?;
                quantity = exact_add(quantity, part.quantity).ok_or_else(too_large)?;
            }
            Some(share_of(value, ret.quantity, quantity).ok_or_else(too_large)?)
        } else {
            None
        };
        let mut taking: Vec<(usize, Decimal)> = Vec::new();
        let mut left = ret.quantity;
        for (index, part) in parts.iter().enumerate().rev() {
            if left.is_zero() {
                break;
            }
            let quantity = left.min(part.quantity);
            if !quantity.is_zero() {
                left -= quantity;
                taking.push((index, quantity));
            }
        }
        let values = match average_value {
            Some(value) => {
                let quantities: Vec<Decimal> = taking.iter().map(|(_, quantity)| *quantity).collect();
                Some(split(value, &quantities).ok_or_else(too_large)?)
            }
            None => None,
        };
        let mut taken: Vec<(usize, Decimal, Decimal, Decimal)> = Vec::new();
        for (n, (index, quantity)) in taking.into_iter().enumerate() {
            let part = &mut parts[index];
            let landed = match &values {
                Some(values) => exact_sub(values[n], exact_mul(quantity, part.unit_cost).ok_or_else(too_large)?),
                None => share_of(part.landed, quantity, part.quantity),
            }
            .ok_or_else(too_large)?;
            part.quantity -= quantity;
            part.landed -= landed;
            taken.push((part.layer, quantity, part.unit_cost, landed));
        }
        if !ret.restock {
            return Ok(());
        }
        let place = self.place(&ret.location);
        for (from, quantity, unit_cost, landed) in taken {
            let from_name = self.layers[from].name.clone();
            let name = LotId::layer(format!("{id}:{from_name}"));
            let key = (date, 1, id.shared(), Some(from_name.shared()));
            let index = self.add_layer(place, key, name, quantity, unit_cost)?;
            self.layers[index].landed = landed;
            self.places[place].revalue(|| Some(landed));
            let cost = exact_mul(quantity, unit_cost)
                .and_then(|base| exact_add(base, landed))
                .ok_or_else(|| overflow(EventKind::Return, id))?;
            costing.movements.push(self.movement(MovementKind::ReturnRestocked, id, date, index, quantity, cost));
        }
        Ok(())
    }

    /// A lot's share of a landed cost: the units it has lost take theirs where they went
    /// (units transferred, to the layer they became), its units on hand raise its value.
    fn landed_cost(
        &mut self,
        landed: &LandedCost,
        lot_id: &LotId,
        share: Decimal,
        date: Timestamp,
        costing: &mut Costing,
    ) -> Result<(), CostingError> {
        let layer = *self.lots.get(lot_id).expect("a landed cost is dated after its lots' receipt");
        self.land(layer, share, &landed.landed_cost_id, date, costing)
    }

    /// Spreads `amount` of a landed cost over `layer`'s takers and the units it holds.
    fn land(
        &mut self,
        layer: usize,
        amount: Decimal,
        id: &EventId,
        date: Timestamp,
        costing: &mut Costing,
    ) -> Result<(), CostingError> {
        let state = &self.layers[layer];
        let takers = state.takers.as_deref().expect("a layer a landed cost falls on keeps its takers");
        let mut weights: Vec<Decimal> = takers.iter().map(|taker| taker.quantity).collect();
        weights.push(state.remaining);
        let Some(parts) = split(amount, &weights) else {
            // A lot loaded with nothing left: the share had no weight either.
            return Ok(());
        };
        let (on_hand, gone) = parts.split_last().expect("one part per taker and one for the units on hand");
        let mut transferred = Vec::new();
        for (taker, part) in takers.iter().zip(gone) {
            if part.is_zero() {
                continue;
            }
            let kind = match (taker.into, taker.kind) {
                (Some(arrived), _) => {
                    transferred.push((arrived, *part));
                    continue;
                }
                (None, MovementKind::SaleLanded) => MovementKind::LandedToCogs,
                (None, MovementKind::SupplierReturn) => MovementKind::LandedToSupplierReturns,
                (None, _) => MovementKind::LandedToWriteOff,
            };
            let mut line = self.movement(kind, id, date, layer, taker.quantity, *part);
            line.consumer = Some(taker.id.clone());
            costing.movements.push(line);
        }
        if !on_hand.is_zero() {
            let remaining = state.remaining;
            costing.movements.push(self.movement(MovementKind::LandedOnHand, id, date, layer, remaining, *on_hand));
            let state = &mut self.layers[layer];
            state.landed = exact_add(state.landed, *on_hand).ok_or_else(|| overflow(EventKind::LandedCost, id))?;
            self.places[state.place].revalue(|| Some(*on_hand));
        }
        for (arrived, part) in transferred {
            self.land(arrived, part, id, date, costing)?;
        }
        Ok(())
    }
}

fn overflow(kind: EventKind, id: &impl std::fmt::Display) -> CostingError {
    CostingError::Overflow { kind, id: id.to_string() }
}

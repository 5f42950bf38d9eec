// outreach.my_controller_ids(level) in C, with a per-backend cache.
//
// Every policy on personal data evaluates it once per query. Written in SQL it scanned
// outreach.controller_role and called pg_has_role() for each row: about 0.3 ms per query, seven
// times the cost of a primary-key lookup. Here the table's rows and each role's answer are
// cached and dropped exactly when they may change: a relcache invalidation of
// outreach.controller_role (sent by a statement trigger on it, see controller_role_changed) or
// any change to roles or role membership (syscache callbacks on pg_authid and pg_auth_members).
// Which rows grant which level is core/access_levels' rule; here are the reading and caching.
#include "../core/access_levels.hpp"  // core first: it must compile without PostgreSQL's headers
#include "../core/error.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "boundary.hpp"
#include "controller_access.hpp"
#include "identity.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_operator_d.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/syscache.h"
}

namespace al = outreach::access_levels;
using al::Level;

namespace {

struct RoleRow {
	int32 controller_id;
	Level level;
	Oid role;
};

struct UserAnswer {
	Oid user;
	al::Answer answer;
};

struct Cache {
	std::uint64_t generation = 1;  // bumped whenever anything below is dropped
	bool rows_valid = false;
	Oid relid = InvalidOid;  // outreach.controller_role, once known
	std::vector<RoleRow> rows;
	std::vector<UserAnswer> answers;  // a backend rarely acts as more than a few roles
};
Cache cache;

// Plans may hold an answer as a constant (see controller_visible_support), so whenever an
// answer may change every cached plan of this backend is invalidated too.
void forget_answers(Datum, int, uint32) {
	cache.answers.clear();
	++cache.generation;
	ResetPlanCache();
}

void forget_rows(Datum, Oid relid) {
	if (relid == InvalidOid || relid == cache.relid) {
		cache.rows_valid = false;
		cache.answers.clear();
		++cache.generation;
		ResetPlanCache();
	}
}

// Reads outreach.controller_role with SPI, as the current role (so its SELECT privilege is
// checked). Plain C style under guard(): no C++ object lives while PostgreSQL may raise.
struct RawRows {
	int count;
	int32 *controller_id;
	int32 *level;
	Oid *role;
	Oid relid;
};

void read_rows_pg(RawRows *out) {
	RawRows &raw = *out;
	raw.relid = get_relname_relid("controller_role", get_namespace_oid("outreach", false));
	MemoryContext caller = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	// Every operator and type is qualified: this text is parsed with the caller's search_path,
	// and the rows are cached for every role this backend acts as afterwards. An unqualified
	// "=" let a caller's own operator decide the levels (e.g. read as write). The numbers are
	// access_levels::Level's.
	static_assert(al::reader == 0 && al::writer == 1 && al::dpo == 2 && al::analyst == 3);
	if (SPI_execute("SELECT controller_id, CASE WHEN level OPERATOR(pg_catalog.=) 'reader' THEN 0 "
	                "WHEN level OPERATOR(pg_catalog.=) 'writer' THEN 1 WHEN level OPERATOR(pg_catalog.=) 'dpo' THEN 2 "
	                "ELSE 3 END, role::pg_catalog.oid FROM outreach.controller_role",
	                true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read outreach.controller_role");
	raw.count = static_cast<int>(SPI_processed);
	MemoryContext spi = MemoryContextSwitchTo(caller);
	raw.controller_id = static_cast<int32 *>(palloc(sizeof(int32) * (raw.count + 1)));
	raw.level = static_cast<int32 *>(palloc(sizeof(int32) * (raw.count + 1)));
	raw.role = static_cast<Oid *>(palloc(sizeof(Oid) * (raw.count + 1)));
	MemoryContextSwitchTo(spi);
	for (int i = 0; i < raw.count; ++i) {
		bool isnull;
		HeapTuple t = SPI_tuptable->vals[i];
		raw.controller_id[i] = DatumGetInt32(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull));
		raw.level[i] = DatumGetInt32(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
		raw.role[i] = DatumGetObjectId(SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull));
	}
	SPI_finish();
}

void load_rows() {
	RawRows raw{0, nullptr, nullptr, nullptr, InvalidOid};
	outreach::pg::guard([&] { read_rows_pg(&raw); });
	cache.rows.clear();
	cache.rows.reserve(static_cast<std::size_t>(raw.count));
	for (int i = 0; i < raw.count; ++i)
		cache.rows.push_back({raw.controller_id[i], static_cast<Level>(raw.level[i]), raw.role[i]});
	cache.relid = raw.relid;
	cache.rows_valid = true;
	cache.answers.clear();
}

// The members user acts for at level.
const std::vector<int32> &ids_for(Oid user, Level level) {
	for (const auto &a : cache.answers)
		if (a.user == user)
			return a.answer.ids[level];
	// has_privs_of_role() and get_role_oid() read syscaches; they raise only on catalog
	// corruption, so they run under guard() like every call into PostgreSQL here.
	const Oid processor = outreach::pg::guard([] { return get_role_oid("outreach_processor", true); });
	const bool is_processor = OidIsValid(processor) && outreach::pg::guard([&] { return has_privs_of_role(user, processor); });
	std::vector<al::Grant> grants;
	grants.reserve(cache.rows.size());
	for (const auto &row : cache.rows)
		grants.push_back({row.controller_id, row.level, outreach::pg::guard([&] { return has_privs_of_role(user, row.role); })});
	cache.answers.push_back({user, al::controller_ids(grants, is_processor)});
	return cache.answers.back().answer.ids[level];
}

}  // namespace

namespace outreach::pg {

void register_controller_access_callbacks() {
	CacheRegisterSyscacheCallback(AUTHOID, forget_answers, 0);
	CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, forget_answers, 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, forget_answers, 0);
	CacheRegisterRelcacheCallback(forget_rows, 0);
}

}  // namespace outreach::pg

// The answer as an int4[] built once per query: policies call my_controller_ids() directly
// (not in a sub-select) so that the planner can see the actual controllers when it estimates
// row counts, and where the call is not an index condition evaluated once per scan, it runs
// per row; then it returns the array it built the first time, kept in fn_extra (query
// lifetime), for as long as the role and the cache generation are unchanged.
struct QueryCache {
	Oid user;
	std::uint64_t generation;
	bool level_is_constant;
	Level level;
	Datum array;
};

Datum build_array(const std::vector<int32> &ids, MemoryContext context) {
	return outreach::pg::guard([&] {
		MemoryContext old = MemoryContextSwitchTo(context);
		Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * (ids.size() + 1)));
		for (std::size_t i = 0; i < ids.size(); ++i)
			elems[i] = Int32GetDatum(ids[i]);
		ArrayType *array = construct_array(elems, static_cast<int>(ids.size()), INT4OID, sizeof(int32), true, TYPALIGN_INT);
		pfree(elems);
		MemoryContextSwitchTo(old);
		return PointerGetDatum(array);
	});
}

Datum controller_ids_of(FunctionCallInfo fcinfo, Oid user) {
	auto *q = static_cast<QueryCache *>(fcinfo->flinfo->fn_extra);
	if (q && q->user == user && q->generation == cache.generation && q->level_is_constant)
		return q->array;
	const Level level = al::parse_level(outreach::pg::text_arg(fcinfo, 0));
	if (!cache.rows_valid)
		load_rows();
	const std::vector<int32> &ids = ids_for(user, level);
	if (!q) {
		q = static_cast<QueryCache *>(outreach::pg::guard(
			[&] { return MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(QueryCache)); }));
		fcinfo->flinfo->fn_extra = q;
	}
	q->user = user;
	q->generation = cache.generation;
	q->level_is_constant = outreach::pg::guard([&] { return get_fn_expr_arg_stable(fcinfo->flinfo, 0); });
	q->level = level;
	q->array = build_array(ids, fcinfo->flinfo->fn_mcxt);
	return q->array;
}

// my_controller_ids(level text DEFAULT 'reader') RETURNS int[]: for the current role.
OUTREACH_FUNCTION(my_controller_ids) { return controller_ids_of(fcinfo, GetUserId()); }

// caller_controller_ids(level text) RETURNS int[]: for the role the session acts as, also
// inside SECURITY DEFINER functions (which is where it is used, to check their callers).
OUTREACH_FUNCTION(caller_controller_ids) { return controller_ids_of(fcinfo, outreach::pg::outer_user()); }

// Statement trigger on outreach.controller_role: tells every backend (this one at the next
// command, others at commit) to drop their cached answers.
OUTREACH_FUNCTION(controller_role_changed) {
	if (!CALLED_AS_TRIGGER(fcinfo))
		throw outreach::Error(outreach::sqlstate::invalid_parameter_value, "controller_role_changed() is a trigger");
	TriggerData *trigger = reinterpret_cast<TriggerData *>(fcinfo->context);
	outreach::pg::guard([&] { CacheInvalidateRelcacheByRelid(RelationGetRelid(trigger->tg_relation)); });
	return PointerGetDatum(nullptr);
}

// controller_visible(controller_id int, level text) RETURNS boolean: the row-security test.
// Evaluated as a function only where the planner did not simplify it (see below).
OUTREACH_FUNCTION(controller_visible) {
	const int32 controller = PG_GETARG_INT32(0);
	const Level level = al::parse_level(outreach::pg::text_arg(fcinfo, 1));
	if (!cache.rows_valid)
		load_rows();
	const std::vector<int32> &ids = ids_for(GetUserId(), level);
	return BoolGetDatum(std::binary_search(ids.begin(), ids.end(), controller));
}

// The planner support function of controller_visible(): while a query is planned, replaces
// controller_visible(controller_id, 'reader') by the planning role's answer as a plain
// condition, controller_id = 42 (one controller), controller_id = ANY ('{3,42}') (several) or
// false (none). The planner then estimates with the real controllers and, with an equality,
// carries controller_id = 42 across joins on controller_id exactly as if the member had written
// it. The plan is marked as depending on the role, so PostgreSQL never reuses it for another
// role, and the caches above invalidate every cached plan when an answer may change.
namespace {

Node *visible_condition(Node *target, const std::vector<int32> &ids) {
	if (ids.empty())
		return makeBoolConst(false, false);
	if (ids.size() == 1) {
		Expr *value = reinterpret_cast<Expr *>(
			makeConst(INT4OID, -1, InvalidOid, sizeof(int32), Int32GetDatum(ids[0]), false, true));
		OpExpr *eq = reinterpret_cast<OpExpr *>(
			make_opclause(Int4EqualOperator, BOOLOID, false, reinterpret_cast<Expr *>(target), value, InvalidOid, InvalidOid));
		eq->opfuncid = F_INT4EQ;
		return reinterpret_cast<Node *>(eq);
	}
	Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * ids.size()));
	for (std::size_t i = 0; i < ids.size(); ++i)
		elems[i] = Int32GetDatum(ids[i]);
	ArrayType *array = construct_array(elems, static_cast<int>(ids.size()), INT4OID, sizeof(int32), true, TYPALIGN_INT);
	ScalarArrayOpExpr *any = makeNode(ScalarArrayOpExpr);
	any->opno = Int4EqualOperator;
	any->opfuncid = F_INT4EQ;
	any->hashfuncid = InvalidOid;
	any->negfuncid = InvalidOid;
	any->useOr = true;
	any->inputcollid = InvalidOid;
	any->args = list_make2(target, makeConst(INT4ARRAYOID, -1, InvalidOid, -1, PointerGetDatum(array), false, false));
	any->location = -1;
	return reinterpret_cast<Node *>(any);
}

}  // namespace

OUTREACH_FUNCTION(controller_visible_support) {
	Node *request = reinterpret_cast<Node *>(PG_GETARG_POINTER(0));
	if (!IsA(request, SupportRequestSimplify))
		PG_RETURN_POINTER(nullptr);
	auto *simplify = reinterpret_cast<SupportRequestSimplify *>(request);
	FuncExpr *call = simplify->fcall;
	if (simplify->root == nullptr || list_length(call->args) != 2)
		PG_RETURN_POINTER(nullptr);  // not planning a query: leave the call as it is
	Node *level_arg = static_cast<Node *>(lsecond(call->args));
	if (!IsA(level_arg, Const) || reinterpret_cast<Const *>(level_arg)->constisnull)
		PG_RETURN_POINTER(nullptr);
	const Datum level_text = reinterpret_cast<Const *>(level_arg)->constvalue;
	const char *level_cstring = outreach::pg::guard([&] { return text_to_cstring(DatumGetTextPP(level_text)); });
	const Level level = al::parse_level(level_cstring);
	if (!cache.rows_valid)
		load_rows();
	const std::vector<int32> &ids = ids_for(GetUserId(), level);
	Node *target = static_cast<Node *>(linitial(call->args));
	PlannerGlobal *glob = simplify->root->glob;
	return outreach::pg::guard([&] {
		glob->dependsOnRole = true;
		return PointerGetDatum(visible_condition(target, ids));
	});
}

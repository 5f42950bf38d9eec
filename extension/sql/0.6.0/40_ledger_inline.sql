-- The ledger's blocks stay in their row up to 8160 bytes (a block of a few dozen participants):
-- out of line, reading a recipient's references back for an import was a TOAST fetch per block.
-- (Rows written before keep their place until rewritten.)
ALTER TABLE outreach.disclosure_block SET (toast_tuple_target = 8160);

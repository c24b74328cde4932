"""Electronic seals and licences (issue 17): the agency's seal key and the roots /verify trusts
(``keys``), what a decision document or notice says (``documents``, templates per document kind in
``templates/``, per matter in processes/<id>.decision.json), drawing the PDF and the seal image
(``render``), 盖章签发 and the electronic licence of an approval (``sealing``), and checking a sealed
PDF (``verification``). Sits beside ``docking`` at the top of the wings: may import ``portal``
(notices, results, receipts' font) and ``feedback`` (the decision's document number) and the wings
below them; nothing imports it but the web layer."""

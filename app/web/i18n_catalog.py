"""English UI text of the docking pages (catalog); merged into app/web/i18n.EN."""
EN = {
}

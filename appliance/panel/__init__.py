"""The box as the web layer sees it: :class:`~appliance.panel.service.BoxPanel` implements
``web.service.PanelService`` by composition (records, flows, lines, the recogniser), and shapes what the pages
and the read API show (:mod:`appliance.panel.views`); :mod:`appliance.panel.flows` is what the panel does with
flows."""

"""Ticket categories and sub-categories (spec section 4)."""

CATEGORIES = {
    "Order": ("Routine Directive", "Special Operation", "Resource Allocation"),
    "Incident": ("Security Breach", "Civil Unrest", "Technical Failure", "Health Hazard"),
    "Personnel": ("Promotion Request", "Demotion Request", "Disciplinary", "Commendation"),
    "Intel": ("Recon Report", "Data Leak", "Counter-Espionage", "Asset Status"),
    "Logistics": ("Supply Shortage", "Transport", "Maintenance", "Infrastructure"),
    "Request": ("Resource", "Leave", "Clarification", "Support"),
    "Audit": ("Compliance Review", "Process Check", "System Integrity"),
    "Economy": ("Credit Dispute", "Payment Inquiry"),
    "Miscellaneous": ("Other",),
}

CATEGORY_CHOICES = [(name, name) for name in CATEGORIES]
SUB_CATEGORY_CHOICES = [(sub, sub) for subs in CATEGORIES.values() for sub in subs]


def is_valid_pair(category, sub_category):
    return sub_category in CATEGORIES.get(category, ())

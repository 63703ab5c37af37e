-- One row per customer; only orders that are not cancelled count.
with customers as (
    select * from {{ ref('stg_customers__customers') }}
),

regions as (
    select * from {{ ref('country_regions') }}
),

customer_orders as (
    select
        customer_id,
        count(*) as order_count,
        sum(order_revenue) as lifetime_value,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date
    from {{ ref('int_orders') }}
    where not is_cancelled
    group by customer_id
)

select
    customers.customer_id,
    customers.first_name || ' ' || customers.last_name as full_name,
    regions.region,
    coalesce(customer_orders.order_count, 0) as order_count,
    round(coalesce(customer_orders.lifetime_value, 0), 2) as lifetime_value,
    customer_orders.first_order_date,
    customer_orders.last_order_date
from customers
left join regions on regions.country = customers.country
left join customer_orders on customer_orders.customer_id = customers.customer_id
